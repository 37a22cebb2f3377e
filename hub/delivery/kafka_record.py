"""The Kafka sink's record: a delivery as Confluent wire-format Avro with CloudEvents headers.

The record is the delivery shape v2 (`hub.delivery.shape`, the same fields as the webhook body
and the inbox item), `data` typed per event type (`hub.delivery.avro_shape`). The schema is
the newest `delivery` entry in the `records` section of `registry.json` (`delivery.v2.avsc`;
it is not an event type, so it is not in `schemas`). v1 (`data` a JSON string) stays listed so
records written before can still be read by id.

CloudEvents (binary mode, `hub.events.cloudevents`, as on every topic the hub writes): `ce_id`
is the message id (`delivery_id` in the body), `ce_type` the event type (the same scheme as the
`events.<type>` topics), `ce_source` the hub, `ce_subject` and the Kafka key the hub person id,
`ce_time` the event's time, `ce_dataschema` the delivery contract version."""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from hub.delivery.avro_shape import AvroShape
from hub.delivery.shape import to_message
from hub.errors import ConfigError, Problem
from hub.events.cloudevents import AVRO, JSON, message_headers
from hub.routing.messages import Delivery

_HEADER = struct.Struct(">bI")


@dataclass(frozen=True)
class DeliveryRecord:
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def dead_letter_record(delivery: Delivery, error: str) -> DeliveryRecord:
    """A webhook delivery that spent its retry budget, on the dead-letter topic: the delivery
    shape as JSON in the same CloudEvents envelope as the recipient topics, keyed by the person
    (hub person id), with the recipient and the last error as extensions."""
    message = to_message(delivery)
    headers = message_headers(
        message,
        JSON,
        recipient=delivery.recipient,
        deadletterreason=error or "unknown",
    )
    return DeliveryRecord(
        message.subject.encode(), message.model_dump_json().encode(), tuple(headers)
    )


def delivery_schemas(schema_dir: Path) -> list[tuple[int, Any]]:
    """The delivery record's versions (id in `registry.json`, schema), oldest first."""
    index_file = schema_dir / "registry.json"
    try:
        index = json.loads(index_file.read_text())
        entries = sorted(
            (r for r in index.get("records", []) if r["name"] == "delivery"),
            key=lambda r: int(r["version"]),
        )
        found = [(int(e["id"]), json.loads((schema_dir / e["file"]).read_text())) for e in entries]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            "no delivery record schema",
            [Problem(str(index_file), "delivery_schema", f"records/delivery: {exc!r}")],
        ) from exc
    if not found:
        raise ConfigError(
            "no delivery record schema",
            [Problem(str(index_file), "delivery_schema", "records: no entry named delivery")],
        )
    return found


class DeliveryCodec:
    def __init__(self, schema_id: int, schema: Any) -> None:
        self.schema_id = schema_id
        self.raw = schema
        self.parsed = fastavro.parse_schema(schema)
        self.shape = AvroShape(schema)

    @classmethod
    def from_dir(cls, schema_dir: Path, schema_id: int | None = None) -> DeliveryCodec:
        """The newest delivery schema; `schema_id`: the id an external Schema Registry gave it
        (`runtime.wiring.wire` registers it), else the id in `registry.json`."""
        newest_id, schema = delivery_schemas(schema_dir)[-1]
        return cls(newest_id if schema_id is None else schema_id, schema)

    def encode(self, delivery: Delivery) -> DeliveryRecord:
        message = to_message(delivery)
        buf = io.BytesIO()
        buf.write(_HEADER.pack(0, self.schema_id))
        fastavro.schemaless_writer(buf, self.parsed, self.shape.record(message))
        headers = message_headers(message, AVRO)
        return DeliveryRecord(message.subject.encode(), buf.getvalue(), tuple(headers))

    def decode(self, value: bytes) -> dict[str, Any]:
        magic, schema_id = _HEADER.unpack_from(value)
        if magic != 0 or schema_id != self.schema_id:
            raise ValueError(f"not a delivery record (magic {magic}, schema id {schema_id})")
        record = fastavro.schemaless_reader(io.BytesIO(value[_HEADER.size :]), self.parsed)
        assert isinstance(record, dict)
        return record
