"""Publish validated events onto their topics and wait for the broker's acknowledgement."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hub.broker.topics import TopicNames
from hub.errors import BrokerError
from hub.events.codec import AvroCodec
from hub.events.content import content_hash
from hub.events.envelope import Event
from hub.signing.records import RecordKeys


class RecordSender(Protocol):
    """The narrow producer interface the publisher needs (aiokafka's AIOKafkaProducer fits)."""

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: Sequence[tuple[str, bytes]]
    ) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class Accepted:
    """An event the broker acknowledged, as it was written (for the ingest journal)."""

    event_id: str
    event_type: str
    source: str
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    content_sha256: str = ""  # hub.events.content.content_hash: tells a duplicate from a conflict


@dataclass(frozen=True)
class Placement:
    """Where the broker's acknowledgement says an accepted event was written."""

    source: str
    event_id: str
    partition: int
    offset: int


class AcceptedSink(Protocol):
    """Where accepted events are kept durably (hub.journal.store.JournalStore fits)."""

    def record(self, accepted: Sequence[Accepted]) -> list[tuple[str, str]]: ...
    def forget(self, keys: Sequence[tuple[str, str]]) -> None: ...
    def placed(self, placements: Sequence[Placement]) -> None: ...


@dataclass(frozen=True)
class Receipt:
    event_id: str
    topic: str
    partition: int
    offset: int


class EventPublisher:
    """Encodes, signs, sends and waits for acknowledgement; with a journal, every acknowledged
    event is also kept in the database before the call returns (so "accepted" survives a lost
    broker). Every record is signed with the hub's record key: the router routes from the
    events topics only what the hub signed."""

    def __init__(
        self,
        sender: RecordSender,
        codec: AvroCodec,
        names: TopicNames,
        journal: AcceptedSink | None = None,
        *,
        keys: RecordKeys,
    ) -> None:
        self._keys = keys
        self._sender = sender
        self._codec = codec
        self._names = names
        self._journal = journal

    async def publish(self, event: Event) -> Receipt:
        """Encode and send one event; returns only after the broker acknowledged it."""
        (receipt,) = await self.publish_many([event])
        return receipt

    async def publish_many(self, events: Sequence[Event]) -> list[Receipt]:
        """Send a batch without waiting in between, then wait for every acknowledgement."""
        pending = []
        written: list[Accepted] = []
        for event in events:
            record = self._codec.encode_event(event)
            topic = self._names.events(event.envelope.type)
            env = event.envelope
            headers = self._keys.sign_headers(topic, record.key, record.value, record.headers)
            written.append(
                Accepted(
                    env.id,
                    env.type,
                    env.source,
                    topic,
                    record.key,
                    record.value,
                    tuple(headers),
                    content_hash(event),
                )
            )
            try:
                pending.append(
                    await self._sender.send(
                        topic, value=record.value, key=record.key, headers=headers
                    )
                )
            except Exception as exc:
                raise BrokerError(f"could not send event {event.envelope.id}: {exc!r}") from exc
        # The journal is written while the broker acknowledges (not after: that doubled the cost
        # of a file import); if the broker refuses, what this call journaled is dropped again.
        journaling = (
            asyncio.ensure_future(asyncio.to_thread(self._journal.record, written))
            if self._journal is not None
            else None
        )
        receipts = []
        try:
            for event, fut in zip(events, pending, strict=True):
                try:
                    meta = await fut
                except Exception as exc:
                    raise BrokerError(
                        f"broker did not acknowledge event {event.envelope.id}: {exc!r}"
                    ) from exc
                receipts.append(Receipt(event.envelope.id, meta.topic, meta.partition, meta.offset))
        except BrokerError:
            if journaling is not None and self._journal is not None:
                added = await journaling
                await asyncio.to_thread(self._journal.forget, added)
            raise
        if journaling is not None and self._journal is not None:
            await journaling
            # where each event waits for the router: the reconciler re-publishes only lost ones
            await asyncio.to_thread(
                self._journal.placed,
                [
                    Placement(a.source, a.event_id, r.partition, r.offset)
                    for a, r in zip(written, receipts, strict=True)
                ],
            )
        return receipts
