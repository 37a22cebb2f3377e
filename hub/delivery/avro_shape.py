"""The delivery shape in Avro (contract v2): `data` typed per event type, not a JSON string.

Each event type's delivery data schema is derived from the newest version of its event schema
with every field optional (`["null", T]`, default null): an agreement may withhold any field.
Correction and retraction deliveries have their own data records (`original_event_id`,
`original_event_type`, and a correction's `corrected` data, typed as the original's type).
The whole record is checked in as `schemas/avro/delivery.v2.avsc`; a unit test keeps it equal
to what `delivery_schema` derives, so a new event schema version means regenerating it
(`python -m hub.delivery.avro_shape schemas/avro`).
"""

from __future__ import annotations

import copy
import re
from datetime import date, datetime
from typing import Any

from hub.delivery.shape import DeliveryMessage
from hub.events.schemas import SchemaRegistry

NAMESPACE = "uk.gov.council.tellitonce.delivery.v2"
FOLLOW_UPS = ("correction", "retraction")
NOT_DELIVERED = frozenset({"consent.changed", "person.linked"})  # control events: never sent
_NAMED = ("record", "enum", "fixed")
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


def data_record_name(event_type: str) -> str:
    """address.changed -> AddressChangedData."""
    return "".join(p.capitalize() for p in re.split(r"[._-]", event_type)) + "Data"


def _optional(ftype: Any) -> Any:
    if isinstance(ftype, list):
        return ftype if "null" in ftype else ["null", *ftype]
    return ["null", ftype]


def _rename(schema: Any, namespace: str) -> Any:
    """Every named type into `namespace`, every field optional (copy)."""
    if isinstance(schema, str):
        return schema.rsplit(".", 1)[-1] if schema not in _PRIMITIVES else schema
    if isinstance(schema, list):
        return [_rename(s, namespace) for s in schema]
    out = dict(schema)
    if out.get("type") in _NAMED:
        out["name"] = str(out["name"]).rsplit(".", 1)[-1]
        out["namespace"] = namespace
        out.pop("aliases", None)
    if out.get("type") == "record":
        out["fields"] = [
            {
                **{k: v for k, v in f.items() if k != "default"},
                "type": _optional(_rename(f["type"], namespace)),
                "default": None,
            }
            for f in out["fields"]
        ]
    elif out.get("type") == "array":
        out["items"] = _rename(out["items"], namespace)
    elif out.get("type") == "map":
        out["values"] = _rename(out["values"], namespace)
    return out


def data_schema(event_type: str, raw: Any) -> dict[str, Any]:
    """The delivery data record of one event type, from its event schema (as written)."""
    namespace = f"{NAMESPACE}.{event_type.replace('.', '_')}"
    derived: dict[str, Any] = _rename(copy.deepcopy(raw), namespace)
    derived["name"] = data_record_name(event_type)
    derived["doc"] = (
        f"What a recipient may be given of {event_type}: every field optional (null when the "
        "agreement withholds it)."
    )
    return derived


def delivered_types(registry: SchemaRegistry) -> list[str]:
    return sorted(t for t in registry.event_types if t not in NOT_DELIVERED | set(FOLLOW_UPS))


def delivery_schema(registry: SchemaRegistry) -> dict[str, Any]:
    """The whole v2 delivery record schema."""
    types = delivered_types(registry)
    data_records: list[Any] = [data_schema(t, registry.latest(t).raw) for t in types]
    names = [f"{NAMESPACE}.{t.replace('.', '_')}.{data_record_name(t)}" for t in types]
    correction = {
        "type": "record",
        "name": "CorrectionData",
        "namespace": NAMESPACE,
        "doc": "A correction of an earlier delivery (mode correction).",
        "fields": [
            {"name": "original_event_id", "type": "string", "doc": "The corrected event."},
            {"name": "original_event_type", "type": "string", "doc": "Its event type."},
            {
                "name": "corrected",
                "type": ["null", *names],
                "default": None,
                "doc": "What it should have said (the fields your agreement gives).",
            },
        ],
    }
    retraction = {
        "type": "record",
        "name": "RetractionData",
        "namespace": NAMESPACE,
        "doc": "An earlier delivery was withdrawn by its source: forget it (mode correction).",
        "fields": [
            {"name": "original_event_id", "type": "string", "doc": "The retracted event."},
            {"name": "original_event_type", "type": "string", "doc": "Its event type."},
        ],
    }
    string_list = {"type": "array", "items": "string"}
    return {
        "type": "record",
        "name": "Delivery",
        "namespace": NAMESPACE,
        "doc": "A minimised update for one recipient on its own Kafka topic (delivery "
        "contract v2: the same fields as the webhook body and the inbox item; `data` typed "
        "per event type).",
        "fields": [
            {"name": "version", "type": "int", "default": 2, "doc": "The contract version: 2."},
            {
                "name": "delivery_id",
                "type": "string",
                "doc": "This message's id (= ce_id): the same on every retry; de-duplicate on it.",
            },
            {
                "name": "original_delivery_id",
                "type": ["null", "string"],
                "default": None,
                "doc": "On a replay or redrive: the delivery it repeats; on a correction or "
                "retraction: the delivery it corrects.",
            },
            {
                "name": "mode",
                "type": "string",
                "default": "live",
                "doc": "live, replay, redrive or correction.",
            },
            {"name": "event_id", "type": "string", "doc": "The source's event id."},
            {"name": "type", "type": "string", "doc": "The event type, e.g. address.changed."},
            {"name": "source", "type": "string", "doc": "The system that published the event."},
            {"name": "subject", "type": "string", "doc": "The hub person id (the record key)."},
            {
                "name": "local_id",
                "type": ["null", "string"],
                "default": None,
                "doc": "Your own id for the person, when linked.",
            },
            {
                "name": "time",
                "type": {"type": "long", "logicalType": "timestamp-micros"},
                "doc": "When the change happened.",
            },
            {
                "name": "flags",
                "type": string_list,
                "default": [],
                "doc": "Facts about the person, e.g. deceased.",
            },
            {"name": "agreement_id", "type": "string", "doc": "The data sharing agreement."},
            {"name": "agreement_version", "type": "string", "doc": "Its content version."},
            {"name": "lawful_basis", "type": "string", "doc": "UK GDPR Art. 6 basis."},
            {
                "name": "fields",
                "type": string_list,
                "doc": "The field paths shared (nothing else is in data).",
            },
            {
                "name": "data",
                "type": ["null", *data_records, correction, retraction],
                "default": None,
                "doc": "The minimised data, typed by event type (null fields: withheld).",
            },
        ],
    }


def _fullname(schema: dict[str, Any]) -> str:
    return f"{schema['namespace']}.{schema['name']}"


def _named_in(schema: Any, out: dict[str, Any]) -> dict[str, Any]:
    """Every named type defined in `schema`, by short and full name."""
    if isinstance(schema, list):
        for s in schema:
            _named_in(s, out)
    elif isinstance(schema, dict):
        if schema.get("type") in _NAMED:
            out[schema["name"]] = schema
            if "namespace" in schema:
                out[_fullname(schema)] = schema
        for f in schema.get("fields", []):
            _named_in(f["type"], out)
        for key in ("items", "values"):
            if key in schema:
                _named_in(schema[key], out)
    return out


def _convert(value: Any, schema: Any, named: dict[str, Any]) -> Any:
    """A JSON value (dates as ISO strings) as fastavro writes it for `schema`."""
    if isinstance(schema, str):
        if schema in named:
            return _convert(value, named[schema], named)
        return value
    if isinstance(schema, list):
        if value is None:
            return None
        branch = next(s for s in schema if s != "null")
        return _convert(value, branch, named)
    kind = schema.get("type")
    logical = schema.get("logicalType")
    if logical == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if logical in ("timestamp-millis", "timestamp-micros") and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if kind == "record" and isinstance(value, dict):
        return {
            f["name"]: _convert(value.get(f["name"]), f["type"], named) for f in schema["fields"]
        }
    if kind == "array" and isinstance(value, list):
        return [_convert(v, schema["items"], named) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _convert(v, schema["values"], named) for k, v in value.items()}
    if isinstance(kind, dict | list):
        return _convert(value, kind, named)
    return value


class AvroShape:
    """Turns a `DeliveryMessage` into the record fastavro writes with the v2 schema."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.named = _named_in(schema, {})
        data_field = next(f for f in schema["fields"] if f["name"] == "data")
        self.by_type: dict[str, dict[str, Any]] = {}
        for branch in data_field["type"]:
            if isinstance(branch, dict):
                self.by_type[branch["name"]] = branch

    def _data(self, message: DeliveryMessage) -> Any:
        if message.type in FOLLOW_UPS:
            record = self.by_type[data_record_name(message.type)]
            value = dict(message.data)
            corrected = value.get("corrected")
            original_type = str(value.get("original_event_type", ""))
            name = data_record_name(original_type)
            if isinstance(corrected, dict) and name in self.by_type:
                inner = self.by_type[name]
                value["corrected"] = (_fullname(inner), _convert(corrected, inner, self.named))
            else:
                value["corrected"] = None
            out = {f["name"]: value.get(f["name"]) for f in record["fields"]}
            return (_fullname(record), out)
        typed = self.by_type.get(data_record_name(message.type))
        if typed is None:
            return None
        return (_fullname(typed), _convert(message.data, typed, self.named))

    def record(self, message: DeliveryMessage) -> dict[str, Any]:
        return {**message.model_dump(mode="python"), "data": self._data(message)}


def main(argv: list[str]) -> None:
    """Write `<schema dir>/delivery.v2.avsc` from the event schemas in that directory."""
    import json
    from pathlib import Path

    schema_dir = Path(argv[1] if len(argv) > 1 else "schemas/avro")
    schema = delivery_schema(SchemaRegistry.from_dir(schema_dir))
    (schema_dir / "delivery.v2.avsc").write_text(json.dumps(schema, indent=2) + "\n")


if __name__ == "__main__":
    import sys

    main(sys.argv)
