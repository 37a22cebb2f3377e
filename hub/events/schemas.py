"""The hub's own schema registry, built from schemas/avro/ (ids never change once issued)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from hub.errors import ConfigError, Problem, UnknownEventType


@dataclass(frozen=True)
class RegisteredSchema:
    schema_id: int
    event_type: str
    version: int
    parsed: Any  # fastavro parsed schema
    file: Path
    raw: Any = None  # the schema as written (JSON), for static compatibility checks

    @property
    def dataschema(self) -> str:
        """The CloudEvents `dataschema` URI for this version."""
        return f"urn:tellitonce:schema:{self.event_type}:v{self.version}"

    def field_paths(self) -> frozenset[str]:
        """Every dotted field path of the record (records nest; arrays and scalars are leaves)."""
        return frozenset(_paths(self.parsed))

    def required_paths(self) -> frozenset[str]:
        """The dotted paths every record must give a value for: fields with no default that
        are not nullable, inside records that are themselves required (leaves only)."""
        return frozenset(_required(self.parsed))

    def date_paths(self) -> frozenset[str]:
        """The dotted paths of the record's `date` fields (the file connectors read UK dates)."""
        return frozenset(_dates(self.parsed))


def _non_null(ftype: Any) -> Any:
    """A union's first member that is not null (an optional record is still a record)."""
    if isinstance(ftype, list):
        return next((t for t in ftype if t != "null"), ftype)
    return ftype


def _record(ftype: Any, named: dict[str, Any]) -> Any:
    """The record a field's type is (kept by name, for the fields that refer to it later) or
    names; None for any other type."""
    if isinstance(ftype, dict) and ftype.get("type") == "record":
        named[ftype["name"]] = ftype
        return ftype
    return named.get(ftype) if isinstance(ftype, str) else None


def _dates(schema: Any, prefix: str = "", named: dict[str, Any] | None = None) -> list[str]:
    named = {} if named is None else named
    out: list[str] = []
    for field in schema.get("fields", []):
        path = f"{prefix}{field['name']}"
        ftype = _non_null(field["type"])
        if isinstance(ftype, dict) and ftype.get("logicalType") == "date":
            out.append(path)
        elif (record := _record(ftype, named)) is not None:
            out.extend(_dates(record, path + ".", named))
    return out


def _required(schema: Any, prefix: str = "", named: dict[str, Any] | None = None) -> list[str]:
    named = {} if named is None else named
    out: list[str] = []
    for field in schema.get("fields", []):
        ftype = field["type"]
        record = _record(_non_null(ftype), named)  # kept by name even when optional
        if "default" in field or (isinstance(ftype, list) and "null" in ftype):
            continue  # optional: a row may leave it out
        path = f"{prefix}{field['name']}"
        out.extend(_required(record, path + ".", named) if record is not None else [path])
    return out


def _paths(schema: Any, prefix: str = "", named: dict[str, Any] | None = None) -> list[str]:
    named = {} if named is None else named
    out: list[str] = []
    for field in schema.get("fields", []):
        path = f"{prefix}{field['name']}"
        out.append(path)
        if (record := _record(_non_null(field["type"]), named)) is not None:
            out.extend(_paths(record, path + ".", named))
    return out


class SchemaRegistry:
    """Current (newest) schema per event type, and every schema by id for decoding."""

    def __init__(
        self,
        schemas: list[RegisteredSchema],
        fetch: Callable[[int, str], RegisteredSchema] | None = None,
    ) -> None:
        """`fetch(schema_id, event_type)` finds writer schemas this registry does not hold."""
        self._fetch = fetch
        self._by_id = {s.schema_id: s for s in schemas}
        self._latest: dict[str, RegisteredSchema] = {}
        for s in sorted(schemas, key=lambda s: s.version):
            self._latest[s.event_type] = s
        self._event_types = frozenset(self._latest)

    @classmethod
    def from_dir(cls, schema_dir: Path) -> SchemaRegistry:
        index_file = schema_dir / "registry.json"
        try:
            index = json.loads(index_file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(
                "cannot read schema registry", [Problem(str(index_file), "readable", str(exc))]
            ) from exc
        schemas: list[RegisteredSchema] = []
        for entry in index["schemas"]:
            path = schema_dir / entry["file"]
            try:
                raw = json.loads(path.read_text())
                parsed = fastavro.parse_schema(raw)
            except Exception as exc:
                raise ConfigError(
                    "invalid Avro schema", [Problem(str(path), "avro_schema", str(exc))]
                ) from exc
            schemas.append(
                RegisteredSchema(
                    int(entry["id"]), entry["type"], int(entry["version"]), parsed, path, raw
                )
            )
        problems = []
        seen_ids: set[int] = set()
        seen_versions: set[tuple[str, int]] = set()
        for schema in schemas:
            if schema.schema_id in seen_ids:
                problems.append(
                    Problem(
                        str(index_file), "unique_id", f"schema id {schema.schema_id} used twice"
                    )
                )
            if (schema.event_type, schema.version) in seen_versions:
                problems.append(
                    Problem(
                        str(index_file),
                        "unique_version",
                        f"{schema.event_type} v{schema.version} listed twice",
                    )
                )
            seen_ids.add(schema.schema_id)
            seen_versions.add((schema.event_type, schema.version))
        if problems:
            raise ConfigError("invalid schema registry", problems)
        return cls(schemas)

    @property
    def event_types(self) -> frozenset[str]:
        return self._event_types

    def latest(self, event_type: str) -> RegisteredSchema:
        try:
            return self._latest[event_type]
        except KeyError:
            raise UnknownEventType(
                f"unknown event type {event_type!r}; known: {', '.join(sorted(self._latest))}"
            ) from None

    def versions(self, event_type: str) -> list[RegisteredSchema]:
        """Every version of an event type, oldest first."""
        return sorted(
            (s for s in self._by_id.values() if s.event_type == event_type), key=lambda s: s.version
        )

    def by_id(self, schema_id: int) -> RegisteredSchema | None:
        return self._by_id.get(schema_id)

    def writer(self, schema_id: int, event_type: str) -> RegisteredSchema | None:
        """The schema a value was written with: held here, or fetched (and kept) when possible."""
        found = self._by_id.get(schema_id)
        if found is None and self._fetch is not None:
            found = self._fetch(schema_id, event_type)
            self._by_id[schema_id] = found
        return found
