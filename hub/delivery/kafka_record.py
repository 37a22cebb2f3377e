"""The Kafka sink's record: a delivery as Confluent wire-format Avro with CloudEvents headers.

The schema is `schemas/avro/delivery.v1.avsc`, its id in the `records` section of
`registry.json` (it is not an event type, so it is not in `schemas`)."""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from hub.errors import ConfigError, Problem
from hub.routing.messages import Delivery

_HEADER = struct.Struct(">bI")
DELIVERY_CE_TYPE_PREFIX = "uk.gov.council.tellitonce.delivery."
HUB_SOURCE = "urn:tellitonce:hub"


@dataclass(frozen=True)
class DeliveryRecord:
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def _iso(moment: Any) -> str:
    return str(moment.isoformat()).replace("+00:00", "Z")


class DeliveryCodec:
    def __init__(self, schema_id: int, schema: Any) -> None:
        self.schema_id = schema_id
        self.parsed = fastavro.parse_schema(schema)

    @classmethod
    def from_dir(cls, schema_dir: Path) -> DeliveryCodec:
        index_file = schema_dir / "registry.json"
        try:
            index = json.loads(index_file.read_text())
            entry = next(r for r in index.get("records", []) if r["name"] == "delivery")
            schema = json.loads((schema_dir / entry["file"]).read_text())
            return cls(int(entry["id"]), schema)
        except (OSError, ValueError, KeyError, StopIteration) as exc:
            raise ConfigError(
                "no delivery record schema",
                [Problem(str(index_file), "delivery_schema", f"records/delivery: {exc!r}")],
            ) from exc

    def encode(self, delivery: Delivery) -> DeliveryRecord:
        record = {
            **delivery.model_dump(exclude={"subject_key", "data"}),
            "fields": list(delivery.fields),
            "subject_flags": list(delivery.subject_flags),
            "mode": delivery.mode.value,
            "data": json.dumps(delivery.data, sort_keys=True, default=str),
        }
        buf = io.BytesIO()
        buf.write(_HEADER.pack(0, self.schema_id))
        fastavro.schemaless_writer(buf, self.parsed, record)
        headers = (
            ("ce_id", delivery.delivery_id.encode()),
            ("ce_source", HUB_SOURCE.encode()),
            ("ce_type", (DELIVERY_CE_TYPE_PREFIX + delivery.event_type).encode()),
            ("ce_subject", delivery.subject.encode()),
            ("ce_time", _iso(delivery.decided_at).encode()),
            ("ce_specversion", b"1.0"),
            ("ce_dataschema", b"urn:tellitonce:schema:delivery:v1"),
            ("content-type", b"application/avro"),
        )
        return DeliveryRecord(delivery.subject.encode(), buf.getvalue(), headers)

    def decode(self, value: bytes) -> dict[str, Any]:
        magic, schema_id = _HEADER.unpack_from(value)
        if magic != 0 or schema_id != self.schema_id:
            raise ValueError(f"not a delivery record (magic {magic}, schema id {schema_id})")
        record = fastavro.schemaless_reader(io.BytesIO(value[_HEADER.size :]), self.parsed)
        assert isinstance(record, dict)
        return record
