"""Avro values in the Confluent wire format, and CloudEvents attributes as Kafka headers."""

from __future__ import annotations

import json
import struct
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hub.errors import CodecError, ConfigError, UnknownEventType
from hub.events.codec import AvroCodec
from hub.events.envelope import Envelope, Event, envelope_from_headers, envelope_to_headers
from hub.events.schemas import SchemaRegistry

from .samples import SCHEMA_DIR, SUBJECT, address_data, death_data


@pytest.fixture(scope="module")
def codec(registry: SchemaRegistry) -> AvroCodec:
    return AvroCodec(registry)


def make_event(type_: str = "address.changed", time: datetime | None = None) -> Event:
    data = address_data() if type_ == "address.changed" else death_data()
    return Event(
        envelope=Envelope(
            id="evt-20260314-0001",
            source="council-tax" if type_ == "address.changed" else "registrar",
            type=type_,
            subject=SUBJECT,
            time=time or datetime(2026, 3, 16, 9, 30, 15, 123456, tzinfo=UTC),
            dataschema=f"urn:tellitonce:schema:{type_}:v1",
        ),
        data=data,
    )


# --- wire format ------------------------------------------------------------------------------


@pytest.mark.parametrize(("type_", "schema_id"), [("address.changed", 3), ("death.notified", 4)])
def test_value_starts_with_magic_byte_and_big_endian_schema_id(
    codec: AvroCodec, type_: str, schema_id: int
) -> None:
    data = address_data() if type_ == "address.changed" else death_data()
    value = codec.encode_value(type_, data)
    assert value[0] == 0
    assert value[1:5] == struct.pack(">I", schema_id)
    assert len(value) > 5


def test_address_changed_round_trips(codec: AvroCodec) -> None:
    value = codec.encode_value("address.changed", address_data())
    assert codec.decode_value("address.changed", value) == address_data()


def test_death_notified_round_trips(codec: AvroCodec) -> None:
    value = codec.encode_value("death.notified", death_data())
    decoded = codec.decode_value("death.notified", value)
    assert decoded == death_data()
    assert isinstance(decoded["date_of_death"], date)


@pytest.mark.parametrize("type_", ["address.changed", "death.notified"])
def test_event_round_trips_through_a_kafka_record(codec: AvroCodec, type_: str) -> None:
    event = make_event(type_)
    record = codec.encode_event(event)
    assert record.key == SUBJECT.encode()
    assert codec.decode_event(record.value, record.headers) == event


def test_encoding_is_deterministic(codec: AvroCodec) -> None:
    assert codec.encode_value("address.changed", address_data()) == codec.encode_value(
        "address.changed", address_data()
    )


def test_data_that_does_not_fit_the_schema_is_a_codec_error(codec: AvroCodec) -> None:
    with pytest.raises(CodecError, match="verified_by"):
        codec.encode_value("death.notified", {"date_of_death": date(2026, 1, 1)})
    with pytest.raises(CodecError):
        codec.encode_value(
            "death.notified", {"date_of_death": date(2026, 1, 1), "verified_by": "x"}
        )


def test_encoding_an_unknown_type_is_refused(codec: AvroCodec) -> None:
    with pytest.raises(UnknownEventType):
        codec.encode_value("pet.adopted", {})


# --- decoding failures ------------------------------------------------------------------------


def test_bad_magic_byte_is_a_codec_error(codec: AvroCodec) -> None:
    value = codec.encode_value("death.notified", death_data())
    with pytest.raises(CodecError, match="magic"):
        codec.decode_value("death.notified", b"\x01" + value[1:])


def test_unknown_schema_id_is_a_codec_error(codec: AvroCodec) -> None:
    value = codec.encode_value("death.notified", death_data())
    with pytest.raises(CodecError, match="unknown schema id 99"):
        codec.decode_value("death.notified", value[:1] + struct.pack(">I", 99) + value[5:])


def test_schema_id_of_another_type_is_a_codec_error(codec: AvroCodec) -> None:
    value = codec.encode_value("death.notified", death_data())
    with pytest.raises(CodecError, match=r"death\.notified"):
        codec.decode_value("address.changed", value)


@pytest.mark.parametrize("value", [b"", b"\x00", b"\x00\x00\x00\x00"])
def test_value_shorter_than_the_header_is_a_codec_error(codec: AvroCodec, value: bytes) -> None:
    with pytest.raises(CodecError, match="too short"):
        codec.decode_value("address.changed", value)


def test_every_truncation_of_the_body_is_a_codec_error(codec: AvroCodec) -> None:
    value = codec.encode_value("address.changed", address_data())
    for cut in range(5, len(value)):
        with pytest.raises(CodecError):
            codec.decode_value("address.changed", value[:cut])


def test_garbage_body_is_a_codec_error(codec: AvroCodec) -> None:
    header = b"\x00" + struct.pack(">I", 2)
    # date 1970-01-02, then enum index 100 (out of range for VerificationSource)
    with pytest.raises(CodecError, match="undecodable"):
        codec.decode_value("death.notified", header + b"\x02\xc8\x01")
    # an address whose string length is negative / absurd
    with pytest.raises(CodecError):
        codec.decode_value("address.changed", b"\x00" + struct.pack(">I", 1) + b"\xff" * 12)


def test_record_whose_type_header_names_an_unknown_type_is_a_codec_error(
    codec: AvroCodec,
) -> None:
    record = codec.encode_event(make_event("death.notified"))
    headers = [(k, b"pet.adopted" if k == "ce_type" else v) for k, v in record.headers]
    with pytest.raises(CodecError):
        codec.decode_event(record.value, headers)


# --- CloudEvents headers ----------------------------------------------------------------------


def test_headers_carry_every_cloudevents_attribute_and_content_type() -> None:
    event = make_event()
    headers = dict(envelope_to_headers(event.envelope))
    assert headers == {
        "ce_id": b"evt-20260314-0001",
        "ce_source": b"council-tax",
        "ce_type": b"address.changed",
        "ce_subject": SUBJECT.encode(),
        "ce_time": b"2026-03-16T09:30:15.123456Z",
        "ce_dataschema": b"urn:tellitonce:schema:address.changed:v1",
        "ce_specversion": b"1.0",
        "content-type": b"application/avro",
    }


def test_headers_round_trip_to_the_same_envelope() -> None:
    envelope = make_event().envelope
    assert envelope_from_headers(envelope_to_headers(envelope)) == envelope


def test_header_time_is_written_in_utc() -> None:
    bst = timezone(timedelta(hours=1))
    envelope = make_event(time=datetime(2026, 6, 1, 10, 0, tzinfo=bst)).envelope
    headers = dict(envelope_to_headers(envelope))
    assert headers["ce_time"] == b"2026-06-01T09:00:00Z"
    back = envelope_from_headers(list(headers.items()))
    assert back.time == envelope.time
    assert back.time.utcoffset() == timedelta(0)


def test_optional_headers_default_when_absent() -> None:
    envelope = make_event().envelope
    headers = [
        (k, v)
        for k, v in envelope_to_headers(envelope)
        if k not in ("ce_dataschema", "ce_specversion")
    ]
    back = envelope_from_headers(headers)
    assert back.specversion == "1.0"
    assert back.dataschema == ""


def test_unrelated_headers_are_ignored() -> None:
    envelope = make_event().envelope
    headers = [("traceparent", b"00-abc-def-01"), *envelope_to_headers(envelope)]
    assert envelope_from_headers(headers) == envelope


@pytest.mark.parametrize("missing", ["ce_id", "ce_source", "ce_type", "ce_subject", "ce_time"])
def test_missing_required_header_is_a_codec_error_naming_it(missing: str) -> None:
    headers = [(k, v) for k, v in envelope_to_headers(make_event().envelope) if k != missing]
    with pytest.raises(CodecError, match=missing):
        envelope_from_headers(headers)


def test_no_headers_at_all_names_every_missing_one(codec: AvroCodec) -> None:
    value = codec.encode_value("death.notified", death_data())
    with pytest.raises(CodecError) as info:
        codec.decode_event(value, [])
    for name in ("ce_id", "ce_source", "ce_type", "ce_subject", "ce_time"):
        assert name in str(info.value)


def test_non_utf8_header_is_a_codec_error() -> None:
    headers = [*envelope_to_headers(make_event().envelope), ("ce_subject", b"\xff\xfe")]
    headers = [(k, v) for k, v in headers if not (k == "ce_subject" and v == SUBJECT.encode())]
    with pytest.raises(CodecError, match="UTF-8"):
        envelope_from_headers(headers)


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("ce_time", b"yesterday"),
        ("ce_time", b"2026-03-16T09:30:00"),  # no timezone
        ("ce_id", b"has spaces in it"),
        ("ce_subject", b""),
    ],
)
def test_malformed_header_is_a_codec_error(name: str, bad: bytes) -> None:
    headers = [(k, bad if k == name else v) for k, v in envelope_to_headers(make_event().envelope)]
    with pytest.raises(CodecError):
        envelope_from_headers(headers)


# --- the schema registry ----------------------------------------------------------------------


def test_registry_knows_the_shipped_types(registry: SchemaRegistry) -> None:
    assert registry.event_types == {
        "address.changed",
        "death.notified",
        "name.changed",
        "contact.changed",
        "consent.changed",
        "person.linked",
        "correction",
        "retraction",
    }
    assert registry.by_id(1) is not None and registry.by_id(1).event_type == "address.changed"
    assert registry.by_id(42) is None
    assert registry.latest("death.notified").dataschema == "urn:tellitonce:schema:death.notified:v2"
    with pytest.raises(UnknownEventType):
        registry.latest("pet.adopted")


def test_field_paths_follow_named_record_types(registry: SchemaRegistry) -> None:
    paths = registry.latest("address.changed").field_paths()
    assert {
        "new_address",
        "new_address.uprn",
        "previous_address.postcode",
        "effective_date",
    } <= paths
    assert "new_address.colour" not in paths
    assert registry.latest("death.notified").field_paths() == {
        "date_of_death",
        "verified_by",
        "informant",
        "informant.name",
        "informant.relationship",
    }


def _write_registry(schema_dir: Path, entries: list[dict[str, object]]) -> None:
    schema_dir.mkdir(parents=True, exist_ok=True)
    (schema_dir / "registry.json").write_text(json.dumps({"schemas": entries}))


def test_broken_avsc_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.avsc").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "broken.avsc").write_text(
        json.dumps(
            {"type": "record", "name": "Broken", "fields": [{"name": "a", "type": "no_such_type"}]}
        )
    )
    _write_registry(tmp_path, [{"id": 1, "type": "x.y", "version": 1, "file": "broken.avsc"}])
    with pytest.raises(ConfigError) as info:
        SchemaRegistry.from_dir(tmp_path)
    assert [p.rule for p in info.value.problems] == ["avro_schema"]
    assert "broken.avsc" in info.value.problems[0].location


def test_avsc_that_is_not_json_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "bad.avsc").write_text('{"type": "record", ')
    _write_registry(tmp_path, [{"id": 1, "type": "x.y", "version": 1, "file": "bad.avsc"}])
    with pytest.raises(ConfigError) as info:
        SchemaRegistry.from_dir(tmp_path)
    assert "bad.avsc" in info.value.problems[0].location


def test_missing_registry_index_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        SchemaRegistry.from_dir(tmp_path)
    assert "registry.json" in info.value.problems[0].location


def test_newer_reader_schema_decodes_values_written_with_the_old_one(tmp_path: Path) -> None:
    """A v1 producer's address.changed and death.notified decode with the shipped v2 readers."""
    for name in ("address.changed.v1.avsc", "death.notified.v1.avsc"):
        (tmp_path / name).write_text((SCHEMA_DIR / name).read_text())
    _write_registry(
        tmp_path,
        [
            {"id": 1, "type": "address.changed", "version": 1, "file": "address.changed.v1.avsc"},
            {"id": 2, "type": "death.notified", "version": 1, "file": "death.notified.v1.avsc"},
        ],
    )
    old = AvroCodec(SchemaRegistry.from_dir(tmp_path))
    current = AvroCodec(SchemaRegistry.from_dir(SCHEMA_DIR))
    v1_address = {k: v for k, v in address_data().items() if k != "move_type"}
    v1_death = {k: v for k, v in death_data().items() if k != "informant"}
    address_value = old.encode_value("address.changed", v1_address)
    death_value = old.encode_value("death.notified", v1_death)
    assert address_value[1:5] == struct.pack(">I", 1)
    assert current.decode_value("address.changed", address_value) == {
        **v1_address,
        "move_type": "within_area",
    }
    assert current.decode_value("death.notified", death_value) == {**v1_death, "informant": None}
