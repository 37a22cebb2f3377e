"""The read side of the Confluent Schema Registry API over the hub's own schemas.

Served by the hub API when no external registry is configured (`HUB_SCHEMA_REGISTRY_URL`
empty), so a standard Confluent deserializer decodes the hub's records with only the hub's URL.
Subjects follow the TopicNameStrategy: `<topic>-value`. Each event type's topic lists its
schema versions; each Kafka recipient's topic lists the delivery record's versions. Ids are
those of `schemas/avro/registry.json` (the ids in the records' wire-format header).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hub.errors import ConfigError, Problem
from hub.events.schemas import SchemaRegistry


@dataclass(frozen=True)
class SubjectVersion:
    subject: str
    version: int
    schema_id: int
    schema: str  # the schema as JSON text (what the Confluent API returns)


class RegistryView:
    def __init__(self, schemas: dict[int, str], subjects: dict[str, list[tuple[int, int]]]) -> None:
        """`schemas`: id -> schema text; `subjects`: subject -> [(version, id)] oldest first."""
        self._schemas = schemas
        self._subjects = {s: sorted(v) for s, v in subjects.items()}

    @classmethod
    def build(
        cls,
        registry: SchemaRegistry,
        schema_dir: Path,
        event_topics: dict[str, str],
        delivery_topics: Iterable[str],
    ) -> RegistryView:
        """`event_topics`: event type -> its topic; `delivery_topics`: the Kafka recipients'."""
        schemas: dict[int, str] = {}
        subjects: dict[str, list[tuple[int, int]]] = {}
        for event_type, topic in event_topics.items():
            for s in registry.versions(event_type):
                schemas[s.schema_id] = json.dumps(s.raw, separators=(",", ":"))
                subjects.setdefault(f"{topic}-value", []).append((s.version, s.schema_id))
        index_file = schema_dir / "registry.json"
        try:
            records = json.loads(index_file.read_text()).get("records", [])
            deliveries = [
                (int(r["version"]), int(r["id"]), (schema_dir / r["file"]).read_text())
                for r in records
                if r["name"] == "delivery"
            ]
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                "cannot read the delivery record schemas",
                [Problem(str(index_file), "records", repr(exc))],
            ) from exc
        for version, schema_id, text in deliveries:
            schemas[schema_id] = json.dumps(json.loads(text), separators=(",", ":"))
            for topic in delivery_topics:
                subjects.setdefault(f"{topic}-value", []).append((version, schema_id))
        return cls(schemas, subjects)

    def schema(self, schema_id: int) -> str | None:
        return self._schemas.get(schema_id)

    def subjects(self) -> list[str]:
        return sorted(self._subjects)

    def versions(self, subject: str) -> list[int] | None:
        found = self._subjects.get(subject)
        return None if found is None else [v for v, _ in found]

    def version(self, subject: str, version: int | None) -> SubjectVersion | None:
        """One version of a subject (None: the latest); None when there is no such version."""
        found = self._subjects.get(subject)
        if not found:
            return None
        pick = found[-1] if version is None else next((f for f in found if f[0] == version), None)
        if pick is None:
            return None
        return SubjectVersion(subject, pick[0], pick[1], self._schemas[pick[1]])
