"""Rejected events, kept whole (bytes, headers, reason) so IG can see them and operators can replay."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, RowMapping, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.db.engine import any_found
from hub.db.tables import RejectedEvent
from hub.paging import Page, fetch_page
from hub.quality.counters import Tally, add_tallies, rule_tallies
from hub.signing.records import signing_input
from hub.timeutil import utc_bounds

_TABLE = RejectedEvent.__table__  # type: ignore[attr-defined]
_KEY_NAMES = ("original_topic", "original_partition", "original_offset", "record_sha256")
_KEY = tuple(_TABLE.c[c] for c in _KEY_NAMES)

Headers = list[tuple[str, bytes]]


def headers_to_json(headers: Sequence[tuple[str, bytes]]) -> str:
    return json.dumps([[k, base64.b64encode(v or b"").decode()] for k, v in headers])


def headers_from_json(text: str) -> Headers:
    return [(k, base64.b64decode(v)) for k, v in json.loads(text)]


def record_sha256(topic: str, key: bytes | None, value: bytes, headers_json: str) -> str:
    """A rejected record's content: the hash of the bytes a record signature covers (topic, key,
    value and headers as stored, each length-prefixed: `signing_input`). With its broker
    position, it tells one record from another: a redelivered batch is kept once, and a record
    at a position an earlier one had (the embedded broker begins its offsets again after a
    restart) is kept too, on SQLite (PostgreSQL keeps the position's key for now: revision
    0023, which fills it in for rows stored before)."""
    body = signing_input(topic, key, value, headers_from_json(headers_json))
    return hashlib.sha256(body).hexdigest()


class Rejection(BaseModel):
    """A rejected record as stored (and as the recorder agent builds it)."""

    model_config = ConfigDict(frozen=True)

    seq: int = 0
    rejected_at: datetime
    source: str
    event_id: str
    event_type: str
    original_topic: str
    original_partition: int
    original_offset: int
    key: bytes | None
    value: bytes
    headers: Headers
    reason: str
    rules: tuple[str, ...]
    status: str = "rejected"
    replayed_at: datetime | None = None
    replayed_as: str | None = None


class RejectedStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, rejections: Sequence[Rejection]) -> int:
        """Store a batch; a record already stored (the same record at the same original topic,
        partition and offset: a redelivered batch) is skipped. Each record stored now is
        counted in the data quality counters (once per rule it broke), in the same transaction:
        a record is counted once, however often it is redelivered."""
        rows = [
            {
                "rejected_at": r.rejected_at,
                "source": r.source,
                "event_id": r.event_id,
                "event_type": r.event_type,
                "original_topic": r.original_topic,
                "original_partition": r.original_partition,
                "original_offset": r.original_offset,
                "key": r.key,
                "value": r.value,
                "headers": headers,
                "record_sha256": record_sha256(r.original_topic, r.key, r.value, headers),
                "reason": r.reason,
                "rules": ",".join(r.rules),
                "status": "rejected",
            }
            for r, headers in ((r, headers_to_json(r.headers)) for r in rejections)
        ]
        if not rows:
            return 0
        with self.engine.begin() as conn:
            # no conflict target: the key is position and content on SQLite, and still the
            # position alone on PostgreSQL (revision 0023)
            ins: Any = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(_TABLE)
            stored = {
                tuple(k) for k in conn.execute(ins.on_conflict_do_nothing().returning(*_KEY), rows)
            }
            add_tallies(conn, _first_tallies(rejections, rows, stored))
            return len(stored)

    def list(
        self, source: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Rejection]:
        stmt = select(_TABLE).order_by(_TABLE.c.seq.desc()).limit(limit)
        if source:
            stmt = stmt.where(_TABLE.c.source == source)
        if status:
            stmt = stmt.where(_TABLE.c.status == status)
        with self.engine.connect() as conn:
            return [_rejection(r._mapping) for r in conn.execute(stmt)]

    def page(
        self,
        source: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        number: int = 1,
        size: int = 500,
    ) -> Page[Rejection]:
        """Rejected within UK days from..to (inclusive, either open), newest first, a page at a
        time: the dates are in the query, so no day is cut off by a cap."""
        start, end = utc_bounds(date_from, date_to)
        stmt = select(_TABLE).order_by(_TABLE.c.seq.desc())
        if source:
            stmt = stmt.where(_TABLE.c.source == source)
        if start is not None:
            stmt = stmt.where(_TABLE.c.rejected_at >= start)
        if end is not None:
            stmt = stmt.where(_TABLE.c.rejected_at < end)
        with self.engine.connect() as conn:
            rows, total = fetch_page(conn, stmt, number, size)
        return Page([_rejection(r._mapping) for r in rows], total, number, size)

    def has_source(self, source: str) -> bool:
        """Whether any rejected record names `source` (one no longer configured, too)."""
        return any_found(self.engine, select(_TABLE.c.seq).where(_TABLE.c.source == source))

    def get(self, seq: int) -> Rejection | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_TABLE).where(_TABLE.c.seq == seq)).first()
        return _rejection(row._mapping) if row is not None else None

    def mark_replayed(self, seq: int, at: datetime, as_event_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(_TABLE)
                .where(_TABLE.c.seq == seq)
                .values(status="replayed", replayed_at=at, replayed_as=as_event_id)
            )

    def purge_before(self, before: datetime, dry_run: bool = False) -> int:
        """Retention: delete (or with dry_run, count) records rejected before `before`, replayed
        or not. The data quality counters keep the counts per source, type and rule."""
        old = _TABLE.c.rejected_at < before
        with self.engine.begin() as conn:
            if dry_run:
                return int(conn.execute(select(func.count()).where(old)).scalar_one())
            return int(conn.execute(delete(_TABLE).where(old)).rowcount or 0)


def _first_tallies(
    rejections: Sequence[Rejection], rows: Sequence[dict[str, Any]], stored: set[tuple[Any, ...]]
) -> list[Tally]:
    """One "rejected" tally per rule broken, for each record this call stored (once each)."""
    tallies: list[Tally] = []
    left = set(stored)
    for r, row in zip(rejections, rows, strict=True):
        key = tuple(row[c] for c in _KEY_NAMES)
        if key in left:
            left.discard(key)
            tallies += rule_tallies(r.rules, r.source, r.event_type, r.rejected_at)
    return tallies


def _rejection(m: RowMapping) -> Rejection:
    return Rejection(
        seq=m["seq"],
        rejected_at=m["rejected_at"],
        source=m["source"],
        event_id=m["event_id"],
        event_type=m["event_type"],
        original_topic=m["original_topic"],
        original_partition=m["original_partition"],
        original_offset=m["original_offset"],
        key=m["key"],
        value=m["value"],
        headers=headers_from_json(m["headers"]),
        reason=m["reason"],
        rules=tuple(r for r in m["rules"].split(",") if r),
        status=m["status"],
        replayed_at=m["replayed_at"],
        replayed_as=m["replayed_as"],
    )
