"""Property tests of the Avro codec and the CloudEvents headers.

The data strategies are generated from the registered Avro schemas themselves, so every event
type and every version in schemas/avro/ is covered, including ones added after this file.
"""

from __future__ import annotations

import functools
import io
import struct
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import CodecError
from hub.events.codec import AvroCodec
from hub.events.envelope import (
    Envelope,
    Event,
    Headers,
    envelope_from_headers,
    envelope_to_headers,
)
from hub.events.schemas import RegisteredSchema, SchemaRegistry

from .samples import SCHEMA_DIR

# Built at import so that the tests can be parametrized by whatever the registry holds.
REGISTRY = SchemaRegistry.from_dir(SCHEMA_DIR)
CODEC = AvroCodec(REGISTRY)
EVENT_TYPES = sorted(REGISTRY.event_types)
ALL_SCHEMAS = [s for t in EVENT_TYPES for s in REGISTRY.versions(t)]

_WIRE_HEADER = struct.Struct(">bI")

# Few examples per parametrized case, more for the single fuzz tests; the module stays < 10 s.
PER_TYPE = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# --- strategies from Avro schemas --------------------------------------------------------------

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_SANE_FROM = datetime(1900, 1, 1)
_SANE_TO = datetime(2200, 12, 31, 23, 59, 59)
_OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=1)), timezone(-timedelta(hours=5, minutes=30))]
)

_PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(*_INT32),
    "long": st.integers(*_INT64),
    # float32 values only: an Avro "float" holds exactly those, so the round trip is exact
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    "bytes": st.binary(max_size=24),
    "string": st.text(max_size=24),
}


def _millis(value: Any) -> Any:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _decimals(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    precision = int(node.get("precision", 10))
    scale = int(node.get("scale", 0))
    bound = Decimal(10**precision - 1).scaleb(-scale)
    return st.decimals(
        min_value=-bound, max_value=bound, places=scale, allow_nan=False, allow_infinity=False
    )


def _logical(node: dict[str, Any]) -> st.SearchStrategy[Any] | None:
    """The Python values fastavro takes and gives back for a logical type (None: unknown)."""
    logical = node.get("logicalType")
    if logical == "date":
        return st.dates(_SANE_FROM.date(), _SANE_TO.date())
    if logical == "time-millis":
        return st.times().map(_millis)
    if logical == "time-micros":
        return st.times()
    if logical == "timestamp-millis":
        return st.datetimes(_SANE_FROM, _SANE_TO, timezones=_OFFSETS).map(_millis)
    if logical == "timestamp-micros":
        return st.datetimes(_SANE_FROM, _SANE_TO, timezones=_OFFSETS)
    if logical == "local-timestamp-millis":
        return st.datetimes(_SANE_FROM, _SANE_TO).map(_millis)
    if logical == "local-timestamp-micros":
        return st.datetimes(_SANE_FROM, _SANE_TO)
    if logical == "uuid":
        return st.uuids()
    if logical == "decimal":
        return _decimals(node)
    return None  # an unknown logical type is written as its underlying type


class AvroStrategies:
    """Hypothesis strategies for the values of one (fastavro-parsed) Avro schema."""

    def __init__(self, schema: Any) -> None:
        self._definitions: dict[str, dict[str, Any]] = {}
        self._named: dict[str, st.SearchStrategy[Any]] = {}
        self._collect(schema)
        self.root = self.strategy(schema)

    def _collect(self, node: Any) -> None:
        """Every named type (record, enum, fixed) defined anywhere in the schema, by full name."""
        if isinstance(node, list):
            for branch in node:
                self._collect(branch)
        elif isinstance(node, dict):
            kind = node.get("type")
            if kind in ("record", "error", "enum", "fixed"):
                self._definitions[node["name"]] = node
            if isinstance(kind, dict | list):
                self._collect(kind)
            for field in node.get("fields", []):
                self._collect(field["type"])
            for key in ("items", "values"):
                if key in node:
                    self._collect(node[key])

    def strategy(self, node: Any) -> st.SearchStrategy[Any]:
        if isinstance(node, list):  # a union: any branch
            return st.one_of([self.strategy(branch) for branch in node])
        if isinstance(node, str):
            return _PRIMITIVES[node] if node in _PRIMITIVES else self._reference(node)
        kind = node["type"]
        if isinstance(kind, dict | list):
            return self.strategy(kind)
        logical = _logical(node)
        if logical is not None:
            return logical
        if kind in ("record", "error", "enum", "fixed"):
            return self._reference(node["name"])
        if kind == "array":
            return st.lists(self.strategy(node["items"]), max_size=3)
        if kind == "map":
            return st.dictionaries(st.text(max_size=8), self.strategy(node["values"]), max_size=3)
        return self.strategy(kind)  # {"type": "string"} and the like

    def _reference(self, name: str) -> st.SearchStrategy[Any]:
        # deferred, so that recursive types (through a union or an array) are fine
        if name not in self._named:
            self._named[name] = st.deferred(lambda: self._define(self._definitions[name]))
        return self._named[name]

    def _define(self, node: dict[str, Any]) -> st.SearchStrategy[Any]:
        kind = node["type"]
        if kind == "enum":
            return st.sampled_from(node["symbols"])
        if kind == "fixed":
            logical = _logical(node)
            size = int(node["size"])
            return logical if logical is not None else st.binary(min_size=size, max_size=size)
        return st.fixed_dictionaries(
            {field["name"]: self.strategy(field["type"]) for field in node["fields"]}
        )


@functools.cache
def record_strategy(schema_id: int) -> st.SearchStrategy[Any]:
    schema = REGISTRY.by_id(schema_id)
    assert schema is not None
    return AvroStrategies(schema.parsed).root


def write(schema: RegisteredSchema, record: dict[str, Any]) -> bytes:
    """What any producer using this schema would put on the topic (not through the hub codec)."""
    buf = io.BytesIO()
    buf.write(_WIRE_HEADER.pack(0, schema.schema_id))
    fastavro.schemaless_writer(buf, schema.parsed, record)
    return buf.getvalue()


def _shape(node: Any) -> Any:
    """A schema without its documentation, for comparing field types across versions."""
    if isinstance(node, list):
        return [_shape(n) for n in node]
    if isinstance(node, dict):
        return {
            k: _shape(v)
            for k, v in node.items()
            if k not in ("doc", "aliases", "default") and not k.startswith("__")
        }
    return node


def _schema_id(schema: RegisteredSchema) -> str:
    return f"{schema.event_type}-v{schema.version}"


def test_there_is_something_to_test() -> None:
    assert EVENT_TYPES
    assert all(REGISTRY.latest(t).parsed.get("type") == "record" for t in EVENT_TYPES)


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@PER_TYPE
@given(data=st.data())
def test_every_event_type_round_trips_through_the_wire_format(
    event_type: str, data: st.DataObject
) -> None:
    schema = REGISTRY.latest(event_type)
    record = data.draw(record_strategy(schema.schema_id), label=event_type)

    value = CODEC.encode_value(event_type, record)

    assert _WIRE_HEADER.unpack_from(value) == (0, schema.schema_id)
    assert CODEC.decode_value(event_type, value) == record


@pytest.mark.parametrize("schema", ALL_SCHEMAS, ids=_schema_id)
@PER_TYPE
@given(data=st.data())
def test_data_written_with_any_registered_version_decodes_with_the_current_one(
    schema: RegisteredSchema, data: st.DataObject
) -> None:
    record = data.draw(record_strategy(schema.schema_id), label=_schema_id(schema))

    decoded = CODEC.decode_value(schema.event_type, write(schema, record))

    reader = REGISTRY.latest(schema.event_type)
    assert set(decoded) == {f["name"] for f in reader.parsed["fields"]}
    written = {f["name"]: _shape(f["type"]) for f in schema.parsed["fields"]}
    for field in reader.parsed["fields"]:
        name = field["name"]
        if written.get(name) == _shape(field["type"]):
            assert decoded[name] == record[name], name


def envelopes(event_type: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Envelope]:
    return st.builds(
        Envelope,
        id=st.text("abcXYZ0189._:-", min_size=1, max_size=40),
        source=st.text(min_size=1, max_size=64),
        type=event_type if event_type is not None else st.sampled_from(EVENT_TYPES),
        subject=st.text(min_size=1, max_size=128),
        time=st.datetimes(_SANE_FROM, _SANE_TO, timezones=_OFFSETS),
        dataschema=st.one_of(st.just(""), st.text(max_size=60)),
        correlationid=st.text(max_size=128),
    )


@st.composite
def events(draw: st.DrawFn) -> Event:
    envelope = draw(envelopes())
    record = draw(record_strategy(REGISTRY.latest(envelope.type).schema_id))
    return Event(envelope=envelope, data=record)


@FUZZ
@given(envelope=envelopes())
def test_envelope_round_trips_through_kafka_headers(envelope: Envelope) -> None:
    headers = envelope_to_headers(envelope)

    assert all(isinstance(v, bytes) for _, v in headers)
    assert ("content-type", b"application/avro") in headers
    assert envelope_from_headers(headers).model_dump() == envelope.model_dump()


@PER_TYPE
@given(event=events())
def test_event_round_trips_as_a_kafka_record(event: Event) -> None:
    record = CODEC.encode_event(event)

    decoded = CODEC.decode_event(record.value, record.headers)

    assert record.key == event.envelope.subject.encode()
    assert decoded.envelope.model_dump() == event.envelope.model_dump()
    assert decoded.data == event.data


# --- hostile input: CodecError and nothing else -------------------------------------------------


def decode_or_codec_error(event_type: str, value: bytes) -> None:
    """Either a record comes back, or the hub's own CodecError; anything else fails the test."""
    try:
        record = CODEC.decode_value(event_type, value)
    except CodecError:
        return
    assert isinstance(record, dict)


_any_event_type = st.one_of(st.sampled_from(EVENT_TYPES), st.text(max_size=20))


@FUZZ
@given(event_type=_any_event_type, value=st.binary(max_size=80))
def test_random_bytes_decode_to_a_record_or_raise_codec_error(
    event_type: str, value: bytes
) -> None:
    decode_or_codec_error(event_type, value)


@FUZZ
@given(
    schema=st.sampled_from(ALL_SCHEMAS),
    other_type=st.one_of(st.none(), _any_event_type),
    body=st.one_of(
        st.binary(max_size=80),
        # mostly small varints (often decodable), some 0x80/0xff (long or huge lengths)
        st.lists(st.sampled_from([0, 1, 2, 3, 4, 6, 0x7F, 0x80, 0xFF]), max_size=40).map(bytes),
    ),
)
def test_random_body_behind_a_valid_header_decodes_or_raises_codec_error(
    schema: RegisteredSchema, other_type: str | None, body: bytes
) -> None:
    value = _WIRE_HEADER.pack(0, schema.schema_id) + body
    decode_or_codec_error(other_type or schema.event_type, value)


@FUZZ
@given(data=st.data())
def test_truncated_encodings_raise_codec_error(data: st.DataObject) -> None:
    schema = data.draw(st.sampled_from(ALL_SCHEMAS), label="schema")
    value = write(schema, data.draw(record_strategy(schema.schema_id), label="record"))
    cut = data.draw(st.integers(0, len(value) - 1), label="cut")

    with pytest.raises(CodecError):
        CODEC.decode_value(schema.event_type, value[:cut])


@FUZZ
@given(data=st.data())
def test_corrupted_encodings_decode_or_raise_codec_error(data: st.DataObject) -> None:
    schema = data.draw(st.sampled_from(ALL_SCHEMAS), label="schema")
    value = bytearray(write(schema, data.draw(record_strategy(schema.schema_id), label="record")))
    for position in data.draw(st.lists(st.integers(0, len(value) - 1), min_size=1, max_size=4)):
        value[position] = data.draw(st.integers(0, 255))

    decode_or_codec_error(schema.event_type, bytes(value))


_CE_HEADERS = (
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_subject",
    "ce_time",
    "ce_dataschema",
    "ce_specversion",
    "ce_correlationid",
)
_BAD_TIMES = st.sampled_from(
    [
        b"",
        b"yesterday",
        b"Z",
        b"2026-03-16",
        b"2026-03-16Z",
        b"2026-03-16T09:30:15",  # no offset: not an aware time
        b"2026-03-16T09:30:15ZZ",
        b"2026-13-01T00:00:00Z",
        b"2026-02-30T00:00:00Z",
        b"2026-03-16T25:00:00Z",
        b"2026-03-16T09:30:15+24:00",
        b"2026-03-16T09:30:15.1234567Z",
        b"0001-01-01T00:00:00+01:00",
        b"9999-12-31T23:59:59-01:00",
        b"10000-01-01T00:00:00Z",
        b"\xff\xfe2026",
    ]
)
_header_values = st.one_of(
    st.none(),
    st.binary(max_size=40),
    st.text(max_size=40).map(str.encode),
    st.text(min_size=129, max_size=200).map(str.encode),  # longer than id/subject allow
    _BAD_TIMES,
    st.datetimes(timezones=st.none() | _OFFSETS).map(lambda d: d.isoformat().encode()),
)
_header_keys = st.one_of(
    st.sampled_from([*_CE_HEADERS, "content-type", "ce_", "CE_ID", "ce-id"]),
    st.text(max_size=8).map(lambda s: "ce_" + s),
    st.text(max_size=12),
)


@st.composite
def garbled_headers(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """Valid headers, then some dropped, garbled, duplicated or made non-UTF-8; or pure noise."""
    if draw(st.booleans()):
        return draw(st.lists(st.tuples(_header_keys, _header_values), max_size=12))
    headers: list[tuple[str, Any]] = list(envelope_to_headers(draw(envelopes())))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["drop", "garble", "non-utf8", "bad-time", "none", "add"]))
        i = draw(st.integers(0, max(len(headers) - 1, 0)))
        if not headers:
            op = "add"
        if op == "drop":
            del headers[i]
        elif op == "garble":
            headers[i] = (headers[i][0], draw(_header_values))
        elif op == "non-utf8":
            headers[i] = (headers[i][0], b"\xc3\x28" + (headers[i][1] or b""))
        elif op == "bad-time":
            headers.append(("ce_time", draw(_BAD_TIMES)))  # the last of a repeated header wins
        elif op == "none":
            headers[i] = (headers[i][0], None)
        else:
            headers.insert(i, (draw(_header_keys), draw(_header_values)))
    return headers


@FUZZ
@given(headers=garbled_headers())
def test_garbled_headers_give_an_envelope_or_raise_codec_error(headers: Headers) -> None:
    try:
        envelope = envelope_from_headers(headers)
    except CodecError:
        return
    assert isinstance(envelope, Envelope)
    assert envelope.time.tzinfo is not None


@FUZZ
@given(headers=garbled_headers(), value=st.binary(max_size=60))
def test_decode_event_of_garbage_gives_an_event_or_raises_codec_error(
    headers: Headers, value: bytes
) -> None:
    try:
        event = CODEC.decode_event(value, headers)
    except CodecError:
        return
    assert isinstance(event, Event)


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("ce_id", b"evt-1")],
        [(name, b"\xff") for name in _CE_HEADERS],
        [(name, None) for name in _CE_HEADERS],
        [(name, b"x") for name in _CE_HEADERS],
    ],
    ids=["empty", "only-id", "non-utf8", "null-values", "bad-time"],
)
def test_known_bad_header_sets_raise_codec_error(headers: Headers) -> None:
    with pytest.raises(CodecError):
        envelope_from_headers(headers)


@pytest.mark.parametrize(
    "ce_time", [b"0001-01-01T00:30:00+01:00", b"9999-12-31T23:30:00-01:00"], ids=["min", "max"]
)
def test_envelope_with_an_out_of_range_utc_time_is_refused_or_round_trips(ce_time: bytes) -> None:
    headers = [
        ("ce_id", b"evt-1"),
        ("ce_source", b"registrar"),
        ("ce_type", EVENT_TYPES[0].encode()),
        ("ce_subject", b"P-1"),
        ("ce_time", ce_time),
    ]
    try:
        envelope = envelope_from_headers(headers)
    except CodecError:
        return  # refusing it on the way in is a fix
    try:
        again = envelope_to_headers(envelope)
    except CodecError:
        return  # so is the hub's own error on the way out
    assert envelope_from_headers(again) == envelope
