"""The pull inbox: deliveries held for a recipient until it acknowledges them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, delete, func, select, update

from hub.db.engine import insert_ignoring_duplicates
from hub.db.tables import InboxItem
from hub.routing.messages import Delivery, Mode

_TABLE = InboxItem.__table__  # type: ignore[attr-defined]


class InboxEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    cursor: int
    delivery: Delivery


class InboxStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, deliveries: Sequence[Delivery], at: datetime, payloads: Sequence[str] | None = None
    ) -> int:
        """Store a batch; a delivery already in the inbox (same delivery id) is not stored twice.

        `payloads`, when given, are the deliveries' JSON exactly as received (saves re-encoding).
        """
        texts = payloads if payloads is not None else [d.model_dump_json() for d in deliveries]
        rows = [
            {
                "delivery_id": d.delivery_id,
                "recipient": d.recipient,
                "event_id": d.event_id,
                "payload": text,
                "created_at": at,
            }
            for d, text in zip(deliveries, texts, strict=True)
        ]
        replayed = {d.delivery_id for d in deliveries if d.mode is Mode.REPLAY}
        with self.engine.begin() as conn:
            if replayed:
                # A replay shows the delivery again (a new cursor, unacknowledged), as the
                # policy in force now allows it; the recipient de-duplicates on delivery_id.
                conn.execute(delete(_TABLE).where(_TABLE.c.delivery_id.in_(sorted(replayed))))
            return insert_ignoring_duplicates(conn, _TABLE, rows, "delivery_id")

    def fetch(self, recipient: str, after: int, limit: int) -> list[InboxEntry]:
        """Unacknowledged deliveries for `recipient` with cursor > `after`, oldest first."""
        stmt = (
            select(_TABLE.c.seq, _TABLE.c.payload)
            .where(
                _TABLE.c.recipient == recipient, _TABLE.c.seq > after, _TABLE.c.acked_at.is_(None)
            )
            .order_by(_TABLE.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                InboxEntry(cursor=seq, delivery=Delivery.model_validate_json(payload))
                for seq, payload in conn.execute(stmt)
            ]

    def ack(self, recipient: str, up_to: int, at: datetime) -> int:
        """Acknowledge every delivery of `recipient` with cursor <= `up_to`. Returns how many."""
        stmt = (
            update(_TABLE)
            .where(
                _TABLE.c.recipient == recipient, _TABLE.c.seq <= up_to, _TABLE.c.acked_at.is_(None)
            )
            .values(acked_at=at)
        )
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).rowcount or 0)

    def purge_acknowledged(self, before: datetime, dry_run: bool = False) -> int:
        """Retention: erase the values of deliveries acknowledged before `before` (or with
        dry_run, count them). The row stays without its payload (delivery id, recipient, event
        id, times), so a redelivery of the same delivery is still recognised and not shown
        again; unacknowledged deliveries are never touched."""
        erasable = (
            _TABLE.c.acked_at.is_not(None) & (_TABLE.c.acked_at < before) & (_TABLE.c.payload != "")
        )
        with self.engine.begin() as conn:
            if dry_run:
                return int(conn.execute(select(func.count()).where(erasable)).scalar_one())
            return int(
                conn.execute(update(_TABLE).where(erasable).values(payload="")).rowcount or 0
            )

    def pending(self, recipient: str) -> int:
        stmt = select(func.count()).where(
            _TABLE.c.recipient == recipient, _TABLE.c.acked_at.is_(None)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())
