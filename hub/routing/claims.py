"""Event ids are per source: the content of record for each (source, event id).

A repeat of (source, event id) with the same content is a duplicate (routed again idempotently:
delivery ids derive from source, event id and recipient); with other content it is a conflict.

- The router claims each (source, event id) with the content hash of the event as it decoded
  and validated it; the first claim is the content of record (`event_claim`), and a later
  record with other content is rejected (`event_id_conflict`).
- The API answers a repeat before publishing it: the content of record is the ingest journal's
  (what it answered "accepted" for), else the router's claim (e.g. an event produced straight
  onto Kafka).

Only content hashes are kept, never values. Known limit: two API requests with one id and
different content at the same instant can both pass the API's check; the API then answers the
one the journal did not keep with 409, while the router routes whichever it reads first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, and_, false, or_, select
from sqlalchemy.dialects import postgresql

from hub.db.engine import sqlite_insert_new
from hub.db.tables import EventClaim, IngestJournal
from hub.quality.counters import Tally, add_tallies

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


_CLAIM_COLUMNS = ("source", "event_id", "event_type", "content_sha256", "claimed_at")


def _claim_sqlite(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[EventKey]:
    """SQLite, by one prepared executemany (`sqlite_insert_new`): the claims this call added.
    All of them when every row went in (the usual case). Otherwise (a redelivered batch, a
    re-published event) the rows this call added are the table's newest: SQLite numbers a new
    row one past the largest id, and this transaction holds its only write lock until it ends."""
    added = sqlite_insert_new(
        conn, "event_claim", _CLAIM_COLUMNS, rows, ("source", "event_id"), ("claimed_at",)
    )
    if added == len(rows):
        return {(r["source"], r["event_id"]) for r in rows}
    if added == 0:
        return set()
    newest = select(_CLAIM.c.source, _CLAIM.c.event_id).order_by(_CLAIM.c.id.desc()).limit(added)
    return {(source, event_id) for source, event_id in conn.execute(newest)}


class ClaimStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(
        self, claims: Sequence[Claim], at: datetime, count_on: date | None = None
    ) -> dict[EventKey, str]:
        """Record the first content the router saw for each key; return it for each key.

        With `count_on`, an event claimed for the first time is counted as accepted on that
        day in the data quality counts, in the same transaction: each event once, however often
        it comes back (a redelivered batch, a release from review, `hub review retry`)."""
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
            if conn.dialect.name == "sqlite":
                new = _claim_sqlite(conn, rows)
            else:
                ins: Any = postgresql.insert(_CLAIM)
                added = conn.execute(
                    ins.on_conflict_do_nothing(index_elements=["source", "event_id"]).returning(
                        _CLAIM.c.source, _CLAIM.c.event_id
                    ),
                    rows,
                )
                new = {(r[0], r[1]) for r in added}
            if count_on is not None:
                add_tallies(
                    conn,
                    (
                        Tally(count_on, k[0], first[k].event_type, "accepted")
                        for k in keys
                        if k in new
                    ),
                )
        # what this call claimed is of record as claimed; only repeats are read back
        of_record = {k: first[k].content_sha256 for k in new}
        repeats = [k for k in keys if k not in new]
        return {**of_record, **self._of_record(repeats, journal=False)} if repeats else of_record

    def content_of(self, source: str, event_id: str) -> str | None:
        """The content of record of one (source, event id) for the API: the journal's, else the
        router's claim; None if the hub never saw it."""
        return self._of_record([(source, event_id)], journal=True).get((source, event_id))

    def _of_record(self, keys: Sequence[EventKey], journal: bool) -> dict[EventKey, str]:
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
                if not journal:
                    continue
                for s, e, h in conn.execute(
                    select(_JOURNAL.c.source, _JOURNAL.c.event_id, _JOURNAL.c.content_sha256).where(
                        _keyed(_JOURNAL, chunk) & _JOURNAL.c.content_sha256.is_not(None)
                    )
                ):
                    journaled[(s, e)] = h
        return {**found, **journaled}
