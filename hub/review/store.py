"""The review queue: events about a person no system's record is linked to, kept whole.

Nothing is dropped: the record waits here until someone links the person (`person.linked`)
and re-queues it (`hub review retry`), when it is routed again with its original id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, RowMapping, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.db.tables import ReviewItem
from hub.paging import Page, fetch_page
from hub.rejected.store import Headers, headers_from_json, headers_to_json

_TABLE = ReviewItem.__table__  # type: ignore[attr-defined]


class Review(BaseModel):
    """An event waiting for review (as stored, and as the router builds it)."""

    model_config = ConfigDict(frozen=True)

    seq: int = 0
    event_id: str
    event_type: str
    source: str
    subject_key: str
    reason: str
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers
    created_at: datetime
    status: str = "open"
    resolved_at: datetime | None = None


class ReviewStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, items: Sequence[Review]) -> None:
        """Queue events; one already queued (a redelivery, or a retry still unresolved) is re-opened."""
        if not items:
            return
        rows = [
            {
                "event_id": i.event_id,
                "event_type": i.event_type,
                "source": i.source,
                "subject_key": i.subject_key,
                "reason": i.reason,
                "topic": i.topic,
                "key": i.key,
                "value": i.value,
                "headers": headers_to_json(i.headers),
                "created_at": i.created_at,
                "status": "open",
                "resolved_at": None,
            }
            for i in {(i.source, i.event_id): i for i in items}.values()
        ]
        with self.engine.begin() as conn:
            dialect = conn.dialect.name
            ins: Any = (sqlite if dialect == "sqlite" else postgresql).insert(_TABLE)
            stmt = ins.on_conflict_do_update(
                index_elements=["source", "event_id"], set_={"status": "open", "resolved_at": None}
            )
            conn.execute(stmt, rows)

    def find(self, status: str | None = "open", limit: int = 100) -> list[Review]:
        stmt = select(_TABLE).order_by(_TABLE.c.seq).limit(limit)
        if status:
            stmt = stmt.where(_TABLE.c.status == status)
        with self.engine.connect() as conn:
            return [_review(r._mapping) for r in conn.execute(stmt)]

    def page(self, status: str | None = "open", number: int = 1, size: int = 200) -> Page[Review]:
        """Review items oldest first, a page at a time, with how many there are in all."""
        stmt = select(_TABLE).order_by(_TABLE.c.seq)
        if status:
            stmt = stmt.where(_TABLE.c.status == status)
        with self.engine.connect() as conn:
            rows, total = fetch_page(conn, stmt, number, size)
        return Page([_review(r._mapping) for r in rows], total, number, size)

    def get(self, seq: int) -> Review | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_TABLE).where(_TABLE.c.seq == seq)).first()
        return _review(row._mapping) if row is not None else None

    def open_item(self, source: str, event_id: str) -> Review | None:
        """The open item holding (source, event id), if any."""
        stmt = select(_TABLE).where(
            (_TABLE.c.source == source)
            & (_TABLE.c.event_id == event_id)
            & (_TABLE.c.status == "open")
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return _review(row._mapping) if row is not None else None

    def open_for(self, subject_keys: Sequence[str]) -> list[Review]:
        """Open items about these people (by pseudonymous key), oldest first."""
        if not subject_keys:
            return []
        stmt = (
            select(_TABLE)
            .where(
                _TABLE.c.subject_key.in_(sorted(set(subject_keys))) & (_TABLE.c.status == "open")
            )
            .order_by(_TABLE.c.seq)
        )
        with self.engine.connect() as conn:
            return [_review(r._mapping) for r in conn.execute(stmt)]

    def mark_released(self, seqs: Sequence[int], at: datetime) -> None:
        """Items routed after the person was linked (only once that routing was acknowledged)."""
        if not seqs:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(_TABLE)
                .where(_TABLE.c.seq.in_(list(seqs)) & (_TABLE.c.status == "open"))
                .values(status="released", resolved_at=at)
            )

    def mark(self, seq: int, status: str, at: datetime | None, only_if: str | None = None) -> bool:
        """Set an item's status (when it is `only_if`, if given). True when a row changed."""
        stmt = update(_TABLE).where(_TABLE.c.seq == seq)
        if only_if is not None:
            stmt = stmt.where(_TABLE.c.status == only_if)
        with self.engine.begin() as conn:
            return bool(conn.execute(stmt.values(status=status, resolved_at=at)).rowcount)


def _review(m: RowMapping) -> Review:
    return Review(
        seq=m["seq"],
        event_id=m["event_id"],
        event_type=m["event_type"],
        source=m["source"],
        subject_key=m["subject_key"],
        reason=m["reason"],
        topic=m["topic"],
        key=m["key"],
        value=m["value"],
        headers=headers_from_json(m["headers"]),
        created_at=m["created_at"],
        status=m["status"],
        resolved_at=m["resolved_at"],
    )
