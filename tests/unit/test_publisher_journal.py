"""The publisher journals what the broker accepted, and drops what it refused."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.broker.topics import TopicNames
from hub.errors import BrokerError
from hub.events.codec import AvroCodec
from hub.events.envelope import Envelope, Event
from hub.events.publisher import Accepted, EventPublisher, Placement
from hub.events.schemas import SchemaRegistry
from hub.signing.records import RecordKeys

KEYS = RecordKeys.of("unit-test-record-key-0123456789")


class Journal:
    def __init__(self) -> None:
        self.kept: dict[str, Accepted] = {}
        self.where: dict[str, tuple[int, int]] = {}

    def record(self, accepted: Sequence[Accepted]) -> list[str]:
        added = [a.event_id for a in accepted if a.event_id not in self.kept]
        self.kept.update({a.event_id: a for a in accepted if a.event_id in added})
        return added

    def forget(self, event_ids: Sequence[str]) -> None:
        for event_id in event_ids:
            self.kept.pop(event_id)

    def placed(self, placements: Sequence[Placement]) -> None:
        self.where.update({p.event_id: (p.partition, p.offset) for p in placements})


class Meta:
    topic, partition, offset = "events.death.notified", 0, 7


class Broker:
    def __init__(self, refuse: set[str]) -> None:
        self.refuse = refuse

    async def send(self, topic: str, value: bytes, key: bytes, headers: Any) -> Any:
        future: asyncio.Future[Meta] = asyncio.get_running_loop().create_future()
        event_id = dict(headers)["ce_id"].decode()
        if event_id in self.refuse:
            future.set_exception(RuntimeError("NotLeaderForPartition"))
        else:
            future.set_result(Meta())
        return future


def death(event_id: str) -> Event:
    return Event(
        envelope=Envelope(
            id=event_id,
            source="registrar",
            type="death.notified",
            subject="P-1",
            time=datetime(2026, 11, 20, tzinfo=UTC),
        ),
        data={"date_of_death": "2026-11-18", "verified_by": "registrar"},
    )


async def test_acknowledged_events_are_journaled_whole(registry: SchemaRegistry) -> None:
    journal = Journal()
    publisher = EventPublisher(Broker(set()), AvroCodec(registry), TopicNames(), journal, keys=KEYS)
    await publisher.publish_many([death("d-1"), death("d-2")])
    assert sorted(journal.kept) == ["d-1", "d-2"]
    kept = journal.kept["d-1"]
    assert kept.topic == "events.death.notified" and kept.key == b"P-1"
    assert AvroCodec(registry).decode_event(kept.value, kept.headers).envelope.id == "d-1"
    # where the broker's ack put each one: the reconciler tells a backlog from a loss by it
    assert journal.where == {"d-1": (0, 7), "d-2": (0, 7)}


async def test_a_refused_batch_leaves_no_journal_entry_but_keeps_earlier_ones(
    registry: SchemaRegistry,
) -> None:
    journal = Journal()
    ok = EventPublisher(Broker(set()), AvroCodec(registry), TopicNames(), journal, keys=KEYS)
    await ok.publish(death("d-1"))
    refusing = EventPublisher(
        Broker({"d-2"}), AvroCodec(registry), TopicNames(), journal, keys=KEYS
    )
    with pytest.raises(BrokerError, match="d-2"):
        await refusing.publish_many([death("d-1"), death("d-2")])  # d-1: a retry of an accepted one
    assert sorted(journal.kept) == ["d-1"]  # accepted earlier: still journaled
