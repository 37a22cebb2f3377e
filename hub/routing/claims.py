"""Event ids are per source: the content of record for each (source, event id).

A repeat of (source, event id) with the same content is a duplicate (routed again idempotently:
delivery ids derive from source, event id and recipient); with other content it is a conflict.
The content of record is the one the ingest journal holds (what the API answered "accepted"
for), else the first one the router saw (kept here, in `event_claim`, for events produced
straight onto Kafka). Only content hashes are kept here, never values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, and_, false, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from hub.db.tables import EventClaim, IngestJournal

_CLAIM: Table = EventClaim.__table__  # type: ignore[attr-defined]
_JOURNAL: Table = IngestJournal.__table__  # type: ignore[attr-defined]
_CHUNK = 300

EventKey = tuple[str, str]  # (source, event id)


@dataclass(frozen=True)
class Claim:
    source: str
    event_id: str
    event_type: str
    content_sha256: str

    @property
    def key(self) -> EventKey:
        return (self.source, self.event_id)


def _keyed(table: Table, keys: Sequence[EventKey]) -> ColumnElement[bool]:
    if not keys:
        return false()
    return or_(*(and_(table.c.source == s, table.c.event_id == e) for s, e in keys))


def conflicts(claims: Sequence[Claim], of_record: dict[EventKey, str]) -> set[EventKey]:
    """The claims whose content differs from the content of record for their key (pure)."""
    return {c.key for c in claims if of_record.get(c.key) not in (None, "", c.content_sha256)}


class ClaimStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(self, claims: Sequence[Claim], at: datetime) -> dict[EventKey, str]:
        """Record the first content seen for each key; return the content of record of each
        (the journal's where the API accepted it, else the first claimed)."""
        if not claims:
            return {}
        first: dict[EventKey, Claim] = {}
        for c in claims:
            first.setdefault(c.key, c)
        keys = list(first)
        rows = [
            {
                "source": c.source,
                "event_id": c.event_id,
                "event_type": c.event_type,
                "content_sha256": c.content_sha256,
                "claimed_at": at,
            }
            for c in first.values()
        ]
        with self.engine.begin() as conn:
            ins: Any = (sqlite if conn.dialect.name == "sqlite" else postgresql).insert(_CLAIM)
            conn.execute(ins.on_conflict_do_nothing(index_elements=["source", "event_id"]), rows)
        return self._of_record(keys)

    def content_of(self, source: str, event_id: str) -> str | None:
        """The content of record of one (source, event id), None if the hub never saw it."""
        return self._of_record([(source, event_id)]).get((source, event_id))

    def _of_record(self, keys: Sequence[EventKey]) -> dict[EventKey, str]:
        found: dict[EventKey, str] = {}
        journaled: dict[EventKey, str] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                for s, e, h in conn.execute(
                    select(_CLAIM.c.source, _CLAIM.c.event_id, _CLAIM.c.content_sha256).where(
                        _keyed(_CLAIM, chunk)
                    )
                ):
                    found[(s, e)] = h
                for s, e, h in conn.execute(
                    select(_JOURNAL.c.source, _JOURNAL.c.event_id, _JOURNAL.c.content_sha256).where(
                        _keyed(_JOURNAL, chunk) & _JOURNAL.c.content_sha256.is_not(None)
                    )
                ):
                    journaled[(s, e)] = h
        return {**found, **journaled}
