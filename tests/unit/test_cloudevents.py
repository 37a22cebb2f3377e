"""The one CloudEvents envelope (hub.events.cloudevents): what each kind of record carries, read
back with the CloudEvents SDK's Kafka binding; a rejection keeps the record's own headers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import kafka as ce_kafka

from agents.rejected_recorder import to_rejection
from agents.router import rejected
from hub.delivery.kafka_record import dead_letter_record
from hub.delivery.shape import message_id
from hub.events.cloudevents import (
    AUDIT_SCHEMA,
    HUB_SOURCE,
    ROUTED_SCHEMA,
    audit_record,
    original_headers,
    rejected_headers,
    routed_record,
)
from hub.events.envelope import Envelope, envelope_to_headers
from hub.routing.messages import Delivery, Mode, delivered_entry, delivery_id
from hub.signing.records import RecordKeys

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
KEYS = RecordKeys.of("a-test-record-key-of-enough-length")


def _delivery(mode: Mode = Mode.LIVE) -> Delivery:
    return Delivery(
        delivery_id=delivery_id("e1", "parking", source="council-tax"),
        event_id="e1",
        event_type="address.changed",
        source="council-tax",
        subject="P-1",
        subject_key="k" * 32,
        recipient="parking",
        local_id="PK-9",
        event_time=NOW,
        agreement_id="DSA-003",
        agreement_version="abc123",
        lawful_basis="Art. 6(1)(e)",
        purpose="permits",
        fields=("new_address.postcode",),
        data={"new_address": {"postcode": "EX4 7QT"}},
        decided_at=NOW,
        mode=mode,
    )


def _read(key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> object:
    return ce_kafka.from_binary_event(
        ce_kafka.KafkaMessage(headers=dict(headers), key=key, value=value)
    )


def test_a_routed_delivery_reads_as_a_cloudevent_with_the_recipients_message_id() -> None:
    live, replay = _delivery(), _delivery(Mode.REPLAY)
    value, headers = routed_record(live)
    event = _read(b"P-1", value, headers)
    assert event.get_id() == live.delivery_id  # type: ignore[attr-defined]
    assert event.get_type() == "address.changed"  # type: ignore[attr-defined]
    assert event.get_source() == HUB_SOURCE  # type: ignore[attr-defined]
    assert event.get_subject() == "P-1"  # type: ignore[attr-defined]
    assert event.get_dataschema() == ROUTED_SCHEMA  # type: ignore[attr-defined]
    assert event.get_data()["delivery_id"] == live.delivery_id  # type: ignore[attr-defined]
    assert routed_record(live) == (value, headers)  # stable: a redelivered record, the same id
    assert dict(routed_record(replay)[1])["ce_id"] == message_id(replay).encode()
    assert message_id(replay) != live.delivery_id


def test_an_audit_entry_has_its_entry_id_and_no_subject() -> None:
    entry = delivered_entry(_delivery(), NOW)
    value, headers = audit_record(entry)
    event = _read(b"k" * 32, value, headers)
    assert event.get_id() == entry.entry_id  # type: ignore[attr-defined]
    assert event.get_type() == "address.changed"  # type: ignore[attr-defined]
    assert event.get_dataschema() == AUDIT_SCHEMA  # type: ignore[attr-defined]
    assert event.get_subject() is None  # type: ignore[attr-defined]
    assert value == entry.model_dump_json().encode()


def test_events_dead_letters_and_deliveries_share_the_header_names_and_order() -> None:
    names = [k for k, _ in routed_record(_delivery())[1]]
    assert names == [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_subject",
        "ce_time",
        "ce_dataschema",
        "content-type",
    ]
    env = Envelope(id="e1", source="council-tax", type="address.changed", subject="P-1", time=NOW)
    assert [k for k, _ in envelope_to_headers(env)] == [n for n in names if n != "ce_dataschema"]
    dead = dead_letter_record(_delivery(), "http_500")
    assert [k for k, _ in dead.headers] == [
        *names[:-1],
        "ce_deadletterreason",
        "ce_recipient",
        "content-type",
    ]


def _consumed(headers: list[tuple[str, bytes]], offset: int = 7) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="sources.council-tax",
        partition=1,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"P-1",
        value=b"not avro",
        checksum=None,
        serialized_key_size=3,
        serialized_value_size=8,
        headers=tuple(headers),
    )


def test_a_rejection_is_in_the_hubs_envelope_and_keeps_the_records_own_headers() -> None:
    own = [("ce_id", b"evt-9"), ("ce_type", b"address.changed"), ("ce_source", b"council-tax")]
    out = rejected("events.rejected", _consumed(own), "cannot decode", ["decode"], KEYS)
    event = ce_kafka.from_binary(
        ce_kafka.KafkaMessage(headers=dict(out.headers), key=out.key, value=out.value),
        _Bytes(),
    )
    assert event.get_type() == "address.changed"
    assert event.get_source() == HUB_SOURCE
    assert event.get_id().startswith("rej_")
    again = rejected("events.rejected", _consumed(own), "cannot decode", ["decode"], KEYS)
    assert dict(again.headers)["ce_id"] == dict(out.headers)["ce_id"]  # stable per record
    other = rejected("events.rejected", _consumed(own, 8), "cannot decode", ["decode"], KEYS)
    assert dict(other.headers)["ce_id"] != dict(out.headers)["ce_id"]
    assert original_headers(out.headers) is not None
    rejection = to_rejection(_consumed_from(out))
    assert rejection.headers == own  # the recorder (and a replay) get the record's own back
    assert (rejection.event_id, rejection.event_type, rejection.source) == (
        "evt-9",
        "address.changed",
        "council-tax",
    )
    assert rejection.original_topic == "sources.council-tax"


def test_a_header_that_is_not_text_is_kept_in_base64_and_comes_back_whole() -> None:
    own = [("ce_id", b"evt-9"), ("trace", b"\xff\x00bin")]
    headers = rejected_headers(own, "sources.council-tax", 0, 1, NOW)
    assert ("original64.trace", b"/wBiaW4=") in headers
    for _, value in headers:
        value.decode()  # every header is text: the CloudEvents SDK decodes them all
    assert original_headers(headers) == own


def test_a_rejected_record_naming_no_well_formed_type_is_of_type_unknown() -> None:
    for own in ([], [("ce_type", b"Address Changed!")], [("ce_type", b"\xff\xfe")]):
        headers = dict(rejected_headers(own, "events.address.changed", 0, 1, NOW))
        assert headers["ce_type"] == b"unknown"
        assert headers["content-type"] == b"application/octet-stream"


def test_a_rejection_written_before_the_envelope_is_read_as_before() -> None:
    legacy = [("ce_id", b"evt-1"), ("hub_rejected_reason", b"why")]
    assert original_headers(legacy) is None
    record = _consumed([*legacy, ("hub_original_topic", b"events.address.changed")])
    rejection = to_rejection(record)
    assert rejection.headers == [("ce_id", b"evt-1")]
    assert rejection.event_id == "evt-1"


def _consumed_from(out: object) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="events.rejected",
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=out.key,  # type: ignore[attr-defined]
        value=out.value,  # type: ignore[attr-defined]
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=tuple(out.headers),  # type: ignore[attr-defined]
    )


class _Bytes:
    """A CloudEvents format that hands the body over untouched (binary mode only)."""

    def read(self, event_factory: Any, data: str | bytes) -> BaseCloudEvent:
        raise NotImplementedError

    def write(self, event: BaseCloudEvent) -> bytes:
        raise NotImplementedError

    def write_data(self, data: Any, datacontenttype: str | None) -> bytes:
        assert isinstance(data, bytes)
        return data

    def read_data(self, body: bytes, datacontenttype: str | None) -> bytes:
        return body

    def get_content_type(self) -> str:
        return "application/octet-stream"


def test_a_rejection_is_listed_under_the_source_the_router_lays_it_to() -> None:
    own = [("ce_id", b"evt-9"), ("ce_source", b"registrar"), ("ce_type", b"death.notified")]
    forged = rejected("events.rejected", _consumed(own, 7), "not signed", ["unsigned"], KEYS, "")
    assert to_rejection(_consumed_from(forged)).source == ""  # not the source it claims
    laid = rejected("events.rejected", _consumed(own, 7), "bad", ["decode"], KEYS, "registrar")
    assert to_rejection(_consumed_from(laid)).source == "registrar"
