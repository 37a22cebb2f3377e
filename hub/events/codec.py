"""Avro values in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro body."""

from __future__ import annotations

import io
import struct
from typing import Any, NamedTuple

import fastavro

from hub.errors import CodecError
from hub.events.envelope import Envelope, Event, Headers, envelope_from_headers, envelope_to_headers
from hub.events.schemas import SchemaRegistry

MAGIC = 0
_HEADER = struct.Struct(">bI")


class KafkaRecord(NamedTuple):
    """What goes onto a Kafka topic for one event: key (the subject), value, headers (a
    NamedTuple: one per event on the hot path, a third of a frozen dataclass's cost)."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


class AvroCodec:
    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry

    def encode_value(self, event_type: str, data: dict[str, Any]) -> bytes:
        schema = self.registry.latest(event_type)
        buf = io.BytesIO(_HEADER.pack(MAGIC, schema.schema_id))
        buf.seek(_HEADER.size)
        try:
            fastavro.schemaless_writer(buf, schema.parsed, data)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CodecError(f"{event_type} data does not fit its Avro schema: {exc}") from exc
        return buf.getvalue()

    def decode_value(self, event_type: str, value: bytes) -> dict[str, Any]:
        """Decode with the writer's schema (from the id) resolved to the current reader schema."""
        if len(value) < _HEADER.size:
            raise CodecError("value too short for the Confluent wire format")
        magic, schema_id = _HEADER.unpack_from(value)
        if magic != MAGIC:
            raise CodecError(f"unknown magic byte {magic} (expected 0)")
        if event_type not in self.registry.event_types:
            raise CodecError(f"unknown event type {event_type!r}")
        writer = self.registry.writer(schema_id, event_type)
        if writer is None:
            raise CodecError(f"unknown schema id {schema_id}")
        reader = self.registry.latest(event_type)
        if writer.event_type != event_type:
            raise CodecError(f"schema id {schema_id} is for {writer.event_type}, not {event_type}")
        # Same version on both sides: no schema resolution to do (the common, fast case).
        resolve_to = None if writer is reader else reader.parsed
        try:
            record = fastavro.schemaless_reader(
                io.BytesIO(value[_HEADER.size :]), writer.parsed, resolve_to
            )
        except Exception as exc:
            raise CodecError(f"undecodable Avro body for schema id {schema_id}: {exc}") from exc
        if not isinstance(record, dict):
            raise CodecError("Avro body is not a record")
        return record

    def encode_event(self, event: Event) -> KafkaRecord:
        return KafkaRecord(
            key=event.envelope.subject.encode(),
            value=self.encode_value(event.envelope.type, event.data),
            headers=envelope_to_headers(event.envelope),
        )

    def decode_event(self, value: bytes, headers: Headers) -> Event:
        envelope: Envelope = envelope_from_headers(headers)
        return Event(envelope=envelope, data=self.decode_value(envelope.type, value))
