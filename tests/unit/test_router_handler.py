"""The router agent's batch handler, driven with real records and no broker."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime

from aiokafka import ConsumerRecord

from agents.app import WorkerDeps
from agents.router import RouterHandler
from hub.broker.topics import TopicNames
from hub.config.model import HubConfig
from hub.events.codec import AvroCodec
from hub.events.envelope import Envelope, Event
from hub.events.rules import RuleConfig
from hub.events.schemas import SchemaRegistry
from hub.quality.counters import Tally
from hub.routing.messages import AuditEntry, Delivery
from hub.settings import HubSettings


def record(
    value: bytes | None, headers: list[tuple[str, bytes]], offset: int = 0
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="events.death.notified",
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"P-1",
        value=value,
        checksum=None,
        serialized_key_size=3,
        serialized_value_size=len(value or b""),
        headers=tuple(headers),
    )


class Tallies(list[Tally]):
    def add(self, tallies: Iterable[Tally]) -> None:
        self.extend(tallies)


def handler(
    config: HubConfig, registry: SchemaRegistry, tallies: Tallies | None = None
) -> RouterHandler:
    deps = WorkerDeps(
        HubSettings(),
        config,
        AvroCodec(registry),
        TopicNames(),
        registry.event_types,
        RuleConfig(effective_past_days=36_500),
    )
    return RouterHandler(deps, tallies if tallies is not None else Tallies())


async def test_a_batch_fans_out_to_every_entitled_recipient(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    codec = AvroCodec(registry)
    event = Event(
        envelope=Envelope(
            id="e-1",
            source="registrar",
            type="death.notified",
            subject="P-1",
            time=datetime(2026, 11, 19, tzinfo=UTC),
        ),
        data={"date_of_death": date(2026, 11, 18), "verified_by": "hospital"},
    )
    encoded = codec.encode_event(event)
    out = await handler(config, registry)([record(encoded.value, encoded.headers)])
    topics = sorted(o.topic for o in out)
    assert topics == [
        "deliveries.adult-social-care",
        "deliveries.electoral",
        "deliveries.libraries",
        "deliveries.parking",
        "deliveries.waste",
    ]
    deliveries = {
        Delivery.model_validate_json(o.value).recipient: Delivery.model_validate_json(o.value)
        for o in out
    }
    assert deliveries["waste"].data == {"date_of_death": "2026-11-18"}  # minimised: no verified_by
    assert deliveries["electoral"].data == {
        "date_of_death": "2026-11-18",
        "verified_by": "hospital",
    }
    assert all(o.key == b"P-1" for o in out)  # same key: per-person order is kept downstream


async def test_bad_records_go_to_rejected_with_the_original_bytes(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    headers = [
        ("ce_id", b"x"),
        ("ce_source", b"registrar"),
        ("ce_type", b"pet.adopted"),
        ("ce_subject", b"P-1"),
        ("ce_time", b"2026-11-19T00:00:00Z"),
    ]
    out = await handler(config, registry)(
        [
            record(b"\x00\x00\x00\x00\x02\x02", headers, 1),
            record(None, headers, 2),
            record(b"junk", [], 3),
        ]
    )
    assert [o.topic for o in out] == ["events.rejected"] * 3
    assert [o.value for o in out] == [b"\x00\x00\x00\x00\x02\x02", b"", b"junk"]
    reasons = [dict(o.headers)["hub_rejected_reason"].decode() for o in out]
    assert "unknown event type 'pet.adopted'" in reasons[0]
    assert "tombstone" in reasons[1]
    assert "missing CloudEvents headers" in reasons[2]
    assert [json.loads(dict(o.headers)["hub_original_offset"]) for o in out] == [
        [0, 1],
        [0, 2],
        [0, 3],
    ]


async def test_withheld_decisions_go_to_the_audit_topic(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    codec = AvroCodec(registry)
    address = {"uprn": "1", "lines": ["1 Road"], "postcode": "EX1 1AA"}
    event = Event(
        envelope=Envelope(
            id="e-2",
            source="council-tax",
            type="address.changed",
            subject="P-2",
            time=datetime(2026, 11, 19, tzinfo=UTC),
        ),
        data={
            "previous_address": address,
            "new_address": address,
            "effective_date": date(2026, 11, 1),
        },
    )
    encoded = codec.encode_event(event)
    out = await handler(config, registry)([record(encoded.value, encoded.headers)])
    audit = [AuditEntry.model_validate_json(o.value) for o in out if o.topic == "audit"]
    assert {(a.recipient, a.reasons[0].code) for a in audit} == {
        ("libraries", "no_agreement"),
        ("adult-social-care", "no_consent"),
    }
    assert "EX1 1AA" not in b"".join(o.value for o in out if o.topic == "audit").decode()
