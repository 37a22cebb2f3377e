"""The router's first step: the hub's events topics carry only what the hub signed, and a
Kafka-native source's own topic names its source (ce_source cannot be claimed)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from hub.config.model import HubConfig
from hub.events.codec import AvroCodec
from hub.events.envelope import Envelope, Event
from hub.events.schemas import SchemaRegistry
from hub.routing.messages import Delivery
from hub.signing.gate import admit_event_record
from hub.signing.records import SIG_HEADER, RecordKeys
from tests.unit.test_router_handler import KEYS, Tallies, handler, record


def death(source: str = "registrar") -> Event:
    return Event(
        envelope=Envelope(
            id="e-1",
            source=source,
            type="death.notified",
            subject="P-1",
            time=datetime(2026, 11, 19, tzinfo=UTC),
        ),
        data={"date_of_death": date(2026, 11, 18), "verified_by": "hospital"},
    )


def reasons(out: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [
        (
            dict(o.headers)["hub_rejected_rules"].decode(),
            dict(o.headers)["hub_rejected_reason"].decode(),
        )
        for o in out
    ]


async def test_an_unsigned_record_on_an_events_topic_is_rejected_and_changes_nothing(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    encoded = AvroCodec(registry).encode_event(death())
    tallies = Tallies()
    out = await handler(config, registry, tallies)(
        [record(encoded.value, encoded.headers, sign=False)]
    )
    assert [o.topic for o in out] == ["events.rejected"]
    ((rules, reason),) = reasons(out)
    assert rules == "unsigned" and "not signed by the hub" in reason
    # laid to no source, not the claimed one (the rejected-event recorder lists and counts it)
    assert dict(out[0].headers)["hub_rejected_source"] == b"" and not tallies
    assert KEYS.verify(out[0].topic, out[0].key, out[0].value, out[0].headers)  # hub-signed


async def test_a_signed_record_with_an_altered_value_is_rejected(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    codec = AvroCodec(registry)
    good = record(codec.encode_event(death()).value, codec.encode_event(death()).headers)
    other = codec.encode_event(
        death().model_copy(update={"data": {**death().data, "date_of_death": date(2026, 1, 1)}})
    )
    forged = dataclasses.replace(good, value=other.value)
    out = await handler(config, registry)([forged])
    assert reasons(out)[0][0] == "bad_signature"
    # the rejected record keeps the original bytes and headers, without the bad signature
    assert out[0].value == other.value
    assert [k for k, _ in out[0].headers].count(SIG_HEADER) == 1  # the hub's own, new one


async def test_a_record_signed_with_a_key_the_hub_does_not_hold_is_rejected(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    encoded = AvroCodec(registry).encode_event(death())
    stranger = RecordKeys.of("someone-elses-key-0123456789abcdef")
    headers = stranger.sign_headers("events.death.notified", b"P-1", encoded.value, encoded.headers)
    out = await handler(config, registry)([record(encoded.value, headers, sign=False)])
    assert reasons(out)[0][0] == "unknown_key"


async def test_a_kafka_native_source_on_its_own_topic_is_routed_unsigned(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    encoded = AvroCodec(registry).encode_event(death("registrar"))
    out = await handler(config, registry)(
        [record(encoded.value, encoded.headers, topic="sources.registrar", sign=False)]
    )
    assert sorted(o.topic for o in out)[0] == "deliveries.adult-social-care"
    assert all(o.topic.startswith("deliveries.") for o in out)
    d = Delivery.model_validate_json(out[0].value)
    assert d.source == "registrar"
    assert all(KEYS.verify(o.topic, o.key, o.value, o.headers) for o in out)


async def test_a_source_claiming_another_source_on_its_topic_is_rejected(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    encoded = AvroCodec(registry).encode_event(death("registrar"))
    tallies = Tallies()
    out = await handler(config, registry, tallies)(
        [record(encoded.value, encoded.headers, topic="sources.council-tax", sign=False)]
    )
    assert [o.topic for o in out] == ["events.rejected"]
    ((rules, reason),) = reasons(out)
    assert rules == "source_mismatch"
    assert "'registrar'" in reason and "'council-tax'" in reason
    assert dict(out[0].headers)["hub_rejected_source"] == b"council-tax" and not tallies


def test_the_gate_alone() -> None:
    bound = {"sources.council-tax": "council-tax"}
    headers = [("ce_source", b"council-tax")]
    topic = "sources.council-tax"
    assert admit_event_record(topic, b"k", b"v", headers, KEYS, bound) is None
    two = [*headers, ("ce_source", b"registrar")]  # a second header to confuse a reader
    refused = admit_event_record(topic, b"k", b"v", two, KEYS, bound)
    assert refused is not None and refused.rules == ("source_mismatch",)
    assert admit_event_record("events.x", b"k", b"v", headers, KEYS, bound) is not None
    signed = KEYS.sign_headers("events.x", b"k", b"v", headers)
    assert admit_event_record("events.x", b"k", b"v", signed, KEYS, bound) is None
