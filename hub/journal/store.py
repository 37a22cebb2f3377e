"""The ingest journal: accepted events kept whole until every entitled recipient has a final
outcome, so a broker that loses messages (the embedded one keeps them in memory) loses nothing.

- `record`: the publisher journals every event the broker acknowledged, before the caller
  answers "accepted";
- `mark_routed`: the router records how many final outcomes routing produced (0: nothing
  further to wait for, e.g. a link, or an event held for review);
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

from sqlalchemy import Engine, RowMapping, bindparam, delete, func, select, union, update

from hub.db.engine import inserted_keys
from hub.db.tables import AuditRecord, IngestJournal, WebhookOutbox
from hub.events.publisher import Accepted
from hub.rejected.store import Headers, headers_from_json, headers_to_json
from hub.timeutil import utcnow

_TABLE = IngestJournal.__table__  # type: ignore[attr-defined]
_AUDIT = AuditRecord.__table__  # type: ignore[attr-defined]
_OUTBOX = WebhookOutbox.__table__  # type: ignore[attr-defined]
FINAL_OUTCOMES = ("delivered", "withheld", "failed")
OPEN = ("accepted", "routed")
MAX_BACKOFF = timedelta(hours=6)


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    event_id: str
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


def _entry(m: RowMapping) -> JournalEntry:
    return JournalEntry(
        seq=m["seq"],
        event_id=m["event_id"],
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
    )


class JournalStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, accepted: Sequence[Accepted], at: datetime | None = None) -> list[str]:
        """Journal accepted events; one already journaled (a retry, same id) is kept as is.
        Returns the ids this call added."""
        now = at or utcnow()
        rows = [
            {
                "event_id": a.event_id,
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
            return [str(k) for k in inserted_keys(conn, _TABLE, rows, "event_id")]

    def forget(self, event_ids: Sequence[str]) -> None:
        """Drop entries this process journaled for events the broker then refused (the caller
        was told they were not accepted), unless routing has already seen them."""
        if event_ids:
            with self.engine.begin() as conn:
                conn.execute(
                    delete(_TABLE).where(
                        _TABLE.c.event_id.in_(list(event_ids)) & (_TABLE.c.status == "accepted")
                    )
                )

    def mark_routed(self, expected: Mapping[str, int], at: datetime) -> None:
        """How many final outcomes each routed event produced; 0 completes it at once."""
        if not expected:
            return
        stmt = (
            update(_TABLE)
            .where((_TABLE.c.event_id == bindparam("b_id")) & (_TABLE.c.status != "complete"))
            .values(
                expected=bindparam("b_expected"),
                routed_at=at,
                status=bindparam("b_status"),
                completed_at=bindparam("b_completed"),
            )
        )
        rows = [
            {
                "b_id": event_id,
                "b_expected": n,
                "b_status": "complete" if n == 0 else "routed",
                "b_completed": at if n == 0 else None,
            }
            for event_id, n in expected.items()
        ]
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)

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
        finals = self._final_counts([c.event_id for c in candidates if c.expected])
        complete = [
            c.event_id
            for c in candidates
            if c.expected is not None and finals.get(c.event_id, 0) >= c.expected
        ]
        if complete:
            with self.engine.begin() as conn:
                conn.execute(
                    update(_TABLE)
                    .where(_TABLE.c.event_id.in_(complete))
                    .values(status="complete", completed_at=now)
                )
        done = set(complete)
        return [
            c
            for c in candidates
            if c.event_id not in done
            and (
                c.republished_at is None
                or c.republished_at <= now - min(grace * (2**c.republished), MAX_BACKOFF)
            )
        ]

    def _final_counts(self, event_ids: Sequence[str]) -> dict[str, int]:
        """Per event, how many recipients hold a final outcome: an audited decision, or the
        delivery durably handed to a webhook outbox (which retries it for days on its own)."""
        if not event_ids:
            return {}
        ids = list(event_ids)
        handed = union(
            select(_AUDIT.c.event_id, _AUDIT.c.recipient).where(
                _AUDIT.c.event_id.in_(ids) & _AUDIT.c.outcome.in_(FINAL_OUTCOMES)
            ),
            select(_OUTBOX.c.event_id, _OUTBOX.c.recipient).where(_OUTBOX.c.event_id.in_(ids)),
        ).subquery()
        stmt = select(handed.c.event_id, func.count()).group_by(handed.c.event_id)
        with self.engine.connect() as conn:
            return {r[0]: int(r[1]) for r in conn.execute(stmt)}

    def mark_republished(self, event_ids: Sequence[str], at: datetime) -> None:
        if not event_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(_TABLE)
                .where(_TABLE.c.event_id.in_(list(event_ids)))
                .values(republished=_TABLE.c.republished + 1, republished_at=at)
            )

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
