"""The ingest journal: accepted events kept whole until every entitled recipient has a final
outcome, so a broker that loses messages (the embedded one keeps them in memory) loses nothing.

- `record`: the publisher journals every event the broker acknowledged, before the caller
  answers "accepted"; `placed`: where the broker's ack says it was written (partition, offset),
  so the reconciler can tell an event waiting in its topic from a lost one;
- `mark_routed`: the router records how many final outcomes routing produced (0: nothing
  further to wait for, e.g. a link, or an event held for review);
Entries are keyed by (source, event id): event ids are per source.

- `due`: events with no routing, or fewer final outcomes than expected (an audited decision,
  or a delivery handed to a webhook outbox), past a grace period: the reconciler re-publishes them with their original id (delivery ids are derived
  from it, so nobody receives anything twice);
- `accepted_since`: what replay re-runs through the policy in force now;
- `purge_complete`: retention. Only complete events (every expected final outcome is in the
  audit trail or a webhook outbox) are deleted; an event still waiting is kept, whatever its age.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    and_,
    bindparam,
    delete,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from hub.db.engine import sqlite_insert_new, sqlite_time_rows
from hub.db.tables import AuditRecord, IngestJournal, WebhookOutbox
from hub.events.publisher import Accepted, Placement
from hub.journal.lost import Placed
from hub.rejected.store import Headers, headers_from_json, headers_to_json
from hub.routing.messages import delivery_id, legacy_delivery_id
from hub.timeutil import utcnow

_TABLE = IngestJournal.__table__  # type: ignore[attr-defined]
_AUDIT = AuditRecord.__table__  # type: ignore[attr-defined]
_OUTBOX = WebhookOutbox.__table__  # type: ignore[attr-defined]
FINAL_OUTCOMES = ("delivered", "withheld", "failed")
OPEN = ("accepted", "routed")
MAX_BACKOFF = timedelta(hours=6)
_CHUNK = 500

EventKey = tuple[str, str]  # (source, event id): the idempotency key of an event


def _insert_new() -> Any:
    """PostgreSQL: INSERT that skips rows whose (source, event id) is journaled already (SQLite:
    `_record_sqlite`)."""
    ins: Any = postgresql.insert(_TABLE)
    return ins.on_conflict_do_nothing(index_elements=["source", "event_id"])


def _keyed(keys: Sequence[EventKey]) -> ColumnElement[bool]:
    """WHERE (source, event_id) is one of `keys` (portable: SQLite and PostgreSQL)."""
    if not keys:
        return false()
    return or_(*(and_(_TABLE.c.source == s, _TABLE.c.event_id == e) for s, e in keys))


_RECORD_COLUMNS = (
    "event_id",
    "content_sha256",
    "event_type",
    "source",
    "topic",
    "key",
    "value",
    "headers",
    "accepted_at",
    "status",
    "republished",
)
_SQLITE_LAST_ADDED = "SELECT source, event_id FROM ingest_journal ORDER BY seq DESC LIMIT ?"


def _record_sqlite(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[EventKey]:
    """SQLite, by one prepared executemany (`sqlite_insert_new`): the keys this call added.

    All of them when every row went in (the usual case). Otherwise the last `added` rows by
    seq: this transaction holds SQLite's only write lock from its first insert on, and a new
    row's seq (its rowid) is the largest in the table plus one, so no other row can be among
    them."""
    added = sqlite_insert_new(
        conn, "ingest_journal", _RECORD_COLUMNS, rows, ("source", "event_id"), ("accepted_at",)
    )
    if added == len(rows):
        return [(r["source"], r["event_id"]) for r in rows]
    if added <= 0:
        return []
    last = conn.exec_driver_sql(_SQLITE_LAST_ADDED, (added,)).all()
    return [(str(source), str(event_id)) for source, event_id in reversed(last)]


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    event_id: str
    content_sha256: str | None
    event_type: str
    source: str
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers
    accepted_at: datetime
    status: str
    expected: int | None
    republished: int
    republished_at: datetime | None
    kafka_partition: int | None = None
    kafka_offset: int | None = None

    @property
    def placed(self) -> Placed:
        return Placed(self.status, self.topic, self.kafka_partition, self.kafka_offset)


def _entry(m: RowMapping) -> JournalEntry:
    return JournalEntry(
        seq=m["seq"],
        event_id=m["event_id"],
        content_sha256=m["content_sha256"],
        event_type=m["event_type"],
        source=m["source"],
        topic=m["topic"],
        key=m["key"],
        value=m["value"],
        headers=headers_from_json(m["headers"]),
        accepted_at=m["accepted_at"],
        status=m["status"],
        expected=m["expected"],
        republished=m["republished"],
        republished_at=m["republished_at"],
        kafka_partition=m["kafka_partition"],
        kafka_offset=m["kafka_offset"],
    )


_SQLITE_PLACE = (
    "UPDATE ingest_journal SET kafka_partition = ?, kafka_offset = ? "
    "WHERE source = ? AND event_id = ?"
)
_SQLITE_MARK_ROUTED = (
    "UPDATE ingest_journal SET expected = ?, routed_at = ?, status = ?, completed_at = ? "
    "WHERE source = ? AND event_id = ? AND status != 'complete'"
)


class JournalStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, accepted: Sequence[Accepted], at: datetime | None = None) -> list[EventKey]:
        """Journal accepted events; one already journaled (a retry: same source and id) is kept
        as is. Returns the (source, event id) keys this call added."""
        now = at or utcnow()
        rows = [
            {
                "event_id": a.event_id,
                "content_sha256": a.content_sha256 or None,
                "event_type": a.event_type,
                "source": a.source,
                "topic": a.topic,
                "key": a.key,
                "value": a.value,
                "headers": headers_to_json(a.headers),
                "accepted_at": now,
                "status": "accepted",
                "republished": 0,
            }
            for a in accepted
        ]
        if not rows:
            return []
        with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                return _record_sqlite(conn, rows)
            stmt = _insert_new().returning(_TABLE.c.source, _TABLE.c.event_id)
            return [(r[0], r[1]) for r in conn.execute(stmt, rows)]

    def content_of(self, source: str, event_id: str) -> str | None:
        """The content hash journaled for (source, event id), "" if journaled without one, None
        if never accepted."""
        stmt = select(_TABLE.c.content_sha256).where(
            (_TABLE.c.source == source) & (_TABLE.c.event_id == event_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else (row[0] or "")

    def forget(self, keys: Sequence[EventKey]) -> None:
        """Drop entries this process journaled for events the broker then refused (the caller
        was told they were not accepted), unless routing has already seen them."""
        if keys:
            with self.engine.begin() as conn:
                for i in range(0, len(keys), _CHUNK):
                    conn.execute(
                        delete(_TABLE).where(
                            _keyed(keys[i : i + _CHUNK]) & (_TABLE.c.status == "accepted")
                        )
                    )

    def placed(self, placements: Sequence[Placement]) -> None:
        """Where the broker wrote each event (its latest copy), from the producer's ack."""
        if placements:
            with self.engine.begin() as conn:
                self._place(conn, placements)

    @staticmethod
    def _place(conn: Any, placements: Sequence[Placement]) -> None:
        if conn.dialect.name == "sqlite":  # one prepared executemany (see _SQLITE_MARK_ROUTED)
            conn.exec_driver_sql(
                _SQLITE_PLACE, [(p.partition, p.offset, p.source, p.event_id) for p in placements]
            )
            return
        stmt = (
            update(_TABLE)
            .where(
                (_TABLE.c.source == bindparam("b_source"))
                & (_TABLE.c.event_id == bindparam("b_id"))
            )
            .values(kafka_partition=bindparam("b_partition"), kafka_offset=bindparam("b_offset"))
        )
        conn.execute(
            stmt,
            [
                {
                    "b_source": p.source,
                    "b_id": p.event_id,
                    "b_partition": p.partition,
                    "b_offset": p.offset,
                }
                for p in placements
            ],
        )

    def mark_routed(self, expected: Mapping[EventKey, int], at: datetime) -> None:
        """How many final outcomes each routed event produced; 0 completes it at once."""
        if not expected:
            return
        marks = [
            (n, "complete" if n == 0 else "routed", at if n == 0 else None, source, event_id)
            for (source, event_id), n in expected.items()
        ]
        with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                # one prepared executemany: SQLAlchemy bound each row's parameters at 3x the
                # cost of the update itself (12 against 4.6 us an event, docs/performance.md)
                values = ((n, at, status, done, s, e) for n, status, done, s, e in marks)
                conn.exec_driver_sql(_SQLITE_MARK_ROUTED, sqlite_time_rows(values, (1, 3)))
                return
            conn.execute(
                update(_TABLE)
                .where(
                    (_TABLE.c.source == bindparam("b_source"))
                    & (_TABLE.c.event_id == bindparam("b_id"))
                    & (_TABLE.c.status != "complete")
                )
                .values(
                    expected=bindparam("b_expected"),
                    routed_at=at,
                    status=bindparam("b_status"),
                    completed_at=bindparam("b_completed"),
                ),
                [
                    {"b_expected": n, "b_status": st, "b_completed": d, "b_source": s, "b_id": e}
                    for n, st, d, s, e in marks
                ],
            )

    def due(self, now: datetime, grace: timedelta, limit: int = 1000) -> list[JournalEntry]:
        """Open events past the grace period that are not complete yet, oldest first.

        Routed events whose audit trail already holds every expected final outcome are marked
        complete here (and not returned). An event re-published before waits longer each time
        (grace x 2^times, at most 6 hours), so a webhook retrying for days is not re-routed
        every few seconds.
        """
        cutoff = now - grace
        stmt = (
            select(_TABLE)
            .where(_TABLE.c.status.in_(OPEN) & (_TABLE.c.accepted_at <= cutoff))
            .order_by(_TABLE.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            candidates = [_entry(r._mapping) for r in conn.execute(stmt)]
        if not candidates:
            return []
        finals = self._final_counts([(c.source, c.event_id) for c in candidates if c.expected])
        complete = [
            c.seq
            for c in candidates
            if c.expected is not None and finals.get((c.source, c.event_id), 0) >= c.expected
        ]
        if complete:
            with self.engine.begin() as conn:
                conn.execute(
                    update(_TABLE)
                    .where(_TABLE.c.seq.in_(complete))
                    .values(status="complete", completed_at=now)
                )
        done = set(complete)
        return [
            c
            for c in candidates
            if c.seq not in done
            and (
                c.republished_at is None
                or c.republished_at <= now - min(grace * (2**c.republished), MAX_BACKOFF)
            )
        ]

    def _final_counts(self, keys: Sequence[EventKey]) -> dict[EventKey, int]:
        """Per (source, event id), how many recipients hold a final outcome: an audited
        decision, or the delivery durably handed to a webhook outbox (which retries it for days
        on its own; where sources share the event id, the outbox row is told apart by its delivery
        id, which derives from the source)."""
        if not keys:
            return {}
        wanted = set(keys)
        ids = sorted({e for _, e in keys})
        sources_of: dict[str, list[str]] = {}
        for source, event_id in wanted:
            sources_of.setdefault(event_id, []).append(source)
        handed: dict[EventKey, set[str]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                audited = select(_AUDIT.c.event_id, _AUDIT.c.source, _AUDIT.c.recipient).where(
                    _AUDIT.c.event_id.in_(chunk) & _AUDIT.c.outcome.in_(FINAL_OUTCOMES)
                )
                for event_id, source, recipient in conn.execute(audited):
                    if (source, event_id) in wanted:
                        handed.setdefault((source, event_id), set()).add(recipient)
                outboxed = select(
                    _OUTBOX.c.event_id, _OUTBOX.c.recipient, _OUTBOX.c.delivery_id
                ).where(_OUTBOX.c.event_id.in_(chunk))
                for event_id, recipient, did in conn.execute(outboxed):
                    sources = sources_of.get(event_id, [])
                    for source in sources:
                        if len(sources) == 1 or did in (
                            delivery_id(event_id, recipient, source=source),
                            legacy_delivery_id(event_id, recipient),  # written before 0009
                        ):
                            handed.setdefault((source, event_id), set()).add(recipient)
        return {key: len(recipients) for key, recipients in handed.items()}

    def mark_republished(
        self, keys: Sequence[EventKey], at: datetime, placements: Sequence[Placement] = ()
    ) -> None:
        """Count a re-publication; `placements`: where the new copies were written."""
        if not keys:
            return
        with self.engine.begin() as conn:
            for i in range(0, len(keys), _CHUNK):
                conn.execute(
                    update(_TABLE)
                    .where(_keyed(keys[i : i + _CHUNK]))
                    .values(republished=_TABLE.c.republished + 1, republished_at=at)
                )
            if placements:
                self._place(conn, placements)

    def accepted_since(
        self, since: datetime, event_type: str | None = None, limit: int = 100_000
    ) -> list[JournalEntry]:
        stmt = select(_TABLE).where(_TABLE.c.accepted_at >= since)
        if event_type:
            stmt = stmt.where(_TABLE.c.event_type == event_type)
        stmt = stmt.order_by(_TABLE.c.seq).limit(limit)
        with self.engine.connect() as conn:
            return [_entry(r._mapping) for r in conn.execute(stmt)]

    def purge_complete(self, before: datetime, dry_run: bool = False) -> int:
        """Delete (or with dry_run, count) the events complete before `before`: the whole
        event values go, the audit trail keeps its references. Open events are never purged:
        the reconciler still needs them to re-publish what a broker lost."""
        finished = (_TABLE.c.status == "complete") & (_TABLE.c.completed_at < before)
        with self.engine.begin() as conn:
            if dry_run:
                return int(conn.execute(select(func.count()).where(finished)).scalar_one())
            return int(conn.execute(delete(_TABLE).where(finished)).rowcount or 0)

    def counts(self) -> dict[str, int]:
        stmt = select(_TABLE.c.status, func.count()).group_by(_TABLE.c.status)
        with self.engine.connect() as conn:
            return {r[0]: int(r[1]) for r in conn.execute(stmt)}
