"""The webhook outbox: pending deliveries per recipient, their attempts, dead letters, endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, Select, and_, bindparam, func, select, update
from sqlalchemy.orm import aliased

from hub.db.engine import any_found, insert_ignoring_duplicates
from hub.db.tables import WebhookEndpoint, WebhookOutbox
from hub.routing.messages import Delivery, Mode

OUTBOX = WebhookOutbox.__table__  # type: ignore[attr-defined]
ENDPOINT = WebhookEndpoint.__table__  # type: ignore[attr-defined]


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # retry budget spent: a dead letter until redriven
    WITHHELD = "withheld"  # a redrive found the policy no longer allows it


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class OutboxRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int
    delivery_id: str
    recipient: str
    subject_key: str
    event_id: str
    event_type: str
    payload: str
    status: OutboxStatus
    attempts: int
    attempt_base: int
    next_attempt_at: datetime
    created_at: datetime
    last_http_status: int | None
    last_error: str
    dead_at: datetime | None

    @property
    def delivery(self) -> Delivery:
        return Delivery.model_validate_json(self.payload)


@dataclass(frozen=True)
class OutboxUpdate:
    """The result of one attempt for its row: delivered, dead, or pending until `next_at`."""

    delivery_id: str
    status: OutboxStatus
    attempts: int
    http_status: int | None
    error: str
    next_at: datetime


class EndpointState(BaseModel):
    model_config = ConfigDict(frozen=True)

    recipient: str
    disabled_at: datetime | None
    reason: str


def _row(r: object) -> OutboxRow:
    m = r._mapping  # type: ignore[attr-defined]
    return OutboxRow(
        seq=m["seq"],
        delivery_id=m["delivery_id"],
        recipient=m["recipient"],
        subject_key=m["subject_key"],
        event_id=m["event_id"],
        event_type=m["event_type"],
        payload=m["payload"],
        status=OutboxStatus(m["status"]),
        attempts=m["attempts"],
        attempt_base=m["attempt_base"],
        next_attempt_at=_aware(m["next_attempt_at"]),
        created_at=_aware(m["created_at"]),
        last_http_status=m["last_http_status"],
        last_error=m["last_error"],
        dead_at=_aware(m["dead_at"]) if m["dead_at"] is not None else None,
    )


class OutboxStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, deliveries: Sequence[Delivery], at: datetime, payloads: Sequence[str] | None = None
    ) -> int:
        """Queue a batch; a delivery already queued (same delivery id) is not queued twice."""
        texts = payloads if payloads is not None else [d.model_dump_json() for d in deliveries]
        rows = [
            {
                "delivery_id": d.delivery_id,
                "recipient": d.recipient,
                "subject_key": d.subject_key,
                "event_id": d.event_id,
                "event_type": d.event_type,
                "payload": text,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "attempt_base": 0,
                "next_attempt_at": at,
                "created_at": at,
                "updated_at": at,
                "last_http_status": None,
                "last_error": "",
                "dead_at": None,
            }
            for d, text in zip(deliveries, texts, strict=True)
        ]
        replays = [
            (d.delivery_id, text)
            for d, text in zip(deliveries, texts, strict=True)
            if d.mode is Mode.REPLAY
        ]
        with self.engine.begin() as conn:
            inserted = insert_ignoring_duplicates(conn, OUTBOX, rows, "delivery_id")
            for did, text in replays:  # a replay sends again what was delivered before
                conn.execute(
                    update(OUTBOX)
                    .where(
                        OUTBOX.c.delivery_id == did,
                        OUTBOX.c.status == OutboxStatus.DELIVERED.value,
                    )
                    .values(
                        status=OutboxStatus.PENDING.value,
                        payload=text,
                        attempt_base=OUTBOX.c.attempts,
                        next_attempt_at=at,
                        updated_at=at,
                    )
                )
            return inserted

    def _due(
        self, recipient: str, now: datetime, limit: int, busy_subjects: frozenset[str]
    ) -> Select[tuple[int]]:
        """The seqs of pending rows due now, only each person's earliest pending one (per-person
        order), none of `busy_subjects`, oldest first."""
        earlier = aliased(OUTBOX)
        has_earlier = (
            select(earlier.c.seq)
            .where(
                earlier.c.recipient == recipient,
                earlier.c.subject_key == OUTBOX.c.subject_key,
                earlier.c.status == OutboxStatus.PENDING.value,
                earlier.c.seq < OUTBOX.c.seq,
            )
            .exists()
        )
        stmt = select(OUTBOX.c.seq).where(
            OUTBOX.c.recipient == recipient,
            OUTBOX.c.status == OutboxStatus.PENDING.value,
            OUTBOX.c.next_attempt_at <= now,
            ~has_earlier,
        )
        if busy_subjects:
            stmt = stmt.where(OUTBOX.c.subject_key.not_in(sorted(busy_subjects)))
        return stmt.order_by(OUTBOX.c.seq).limit(limit)

    def due(
        self, recipient: str, now: datetime, limit: int, busy_subjects: frozenset[str] = frozenset()
    ) -> list[OutboxRow]:
        """Pending rows due now, only each person's earliest pending one (per-person order)."""
        due = self._due(recipient, now, limit, busy_subjects).subquery()
        stmt = select(OUTBOX).join(due, OUTBOX.c.seq == due.c.seq).order_by(OUTBOX.c.seq)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(stmt)]

    def take_due(
        self,
        recipient: str,
        now: datetime,
        limit: int,
        busy_subjects: frozenset[str],
        hold_until: datetime,
    ) -> list[OutboxRow]:
        """`due`, and each row returned is held for the caller until `hold_until` (its
        `next_attempt_at` moves there): another worker's loop does not take it meanwhile, and a
        person's later rows stay behind it. A row another loop took first is left out (the
        conditions are checked again on the row as it is updated). The attempt's outcome
        (`apply`) sets the row's next attempt; if the caller stops before, the hold lapses and
        any loop takes the row again (at least once, same webhook-id)."""
        stmt = (
            update(OUTBOX)
            .where(
                OUTBOX.c.seq.in_(self._due(recipient, now, limit, busy_subjects).scalar_subquery()),
                OUTBOX.c.status == OutboxStatus.PENDING.value,
                OUTBOX.c.next_attempt_at <= now,
            )
            .values(next_attempt_at=hold_until)
            .returning(*OUTBOX.c)
        )
        with self.engine.begin() as conn:
            rows = [_row(r) for r in conn.execute(stmt)]
        return sorted(rows, key=lambda r: r.seq)

    def release(self, seqs: Sequence[int], hold_until: datetime, now: datetime) -> None:
        """Rows taken (`take_due`, held until `hold_until`) and not sent: due again now."""
        if not seqs:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(OUTBOX)
                .where(
                    OUTBOX.c.seq.in_(list(seqs)),
                    OUTBOX.c.status == OutboxStatus.PENDING.value,
                    OUTBOX.c.next_attempt_at == hold_until,
                )
                .values(next_attempt_at=now)
            )

    def _set(self, delivery_id: str, values: dict[str, object], status: OutboxStatus) -> bool:
        stmt = (
            update(OUTBOX)
            .where(OUTBOX.c.delivery_id == delivery_id, OUTBOX.c.status == status.value)
            .values(**values)
        )
        with self.engine.begin() as conn:
            return bool(conn.execute(stmt).rowcount)

    def apply(self, updates: Sequence[OutboxUpdate], at: datetime) -> None:
        """Record a batch of attempts in one transaction (only rows still pending change): one
        prepared statement per kind of outcome, executed for all its rows at once."""
        kinds: dict[OutboxStatus, list[dict[str, object]]] = {}
        for u in updates:
            params: dict[str, object] = {
                "b_id": u.delivery_id,
                "b_status": u.status.value,
                "b_attempts": u.attempts,
                "b_http": u.http_status,
                "b_error": u.error[:500],
                "b_at": at,
            }
            if u.status is OutboxStatus.PENDING:
                params["b_next"] = u.next_at
            kinds.setdefault(u.status, []).append(params)
        with self.engine.begin() as conn:
            for status, rows in kinds.items():
                values: dict[str, object] = {
                    "status": bindparam("b_status"),
                    "attempts": bindparam("b_attempts"),
                    "last_http_status": bindparam("b_http"),
                    "last_error": bindparam("b_error"),
                    "updated_at": bindparam("b_at"),
                }
                if status is OutboxStatus.PENDING:
                    values["next_attempt_at"] = bindparam("b_next")
                elif status is OutboxStatus.DEAD:
                    values["dead_at"] = bindparam("b_at")
                conn.execute(
                    update(OUTBOX)
                    .where(
                        OUTBOX.c.delivery_id == bindparam("b_id"),
                        OUTBOX.c.status == OutboxStatus.PENDING.value,
                    )
                    .values(**values),
                    rows,
                )

    def mark_delivered(
        self, delivery_id: str, attempts: int, http_status: int, at: datetime
    ) -> None:
        self.apply(
            [OutboxUpdate(delivery_id, OutboxStatus.DELIVERED, attempts, http_status, "", at)], at
        )

    def mark_retry(
        self,
        delivery_id: str,
        attempts: int,
        http_status: int | None,
        error: str,
        next_at: datetime,
        at: datetime,
    ) -> None:
        self.apply(
            [
                OutboxUpdate(
                    delivery_id, OutboxStatus.PENDING, attempts, http_status, error, next_at
                )
            ],
            at,
        )

    def mark_dead(
        self, delivery_id: str, attempts: int, http_status: int | None, error: str, at: datetime
    ) -> None:
        self.apply(
            [OutboxUpdate(delivery_id, OutboxStatus.DEAD, attempts, http_status, error, at)], at
        )

    def requeue(self, delivery_id: str, payload: str, attempts: int, at: datetime) -> bool:
        """A dead letter back to pending (redrive), with a fresh retry budget.

        Attempt numbers go on counting (each attempt's audit entry keeps a unique id)."""
        return self._set(
            delivery_id,
            {
                "status": OutboxStatus.PENDING.value,
                "payload": payload,
                "attempt_base": attempts,
                "next_attempt_at": at,
                "dead_at": None,
                "updated_at": at,
            },
            OutboxStatus.DEAD,
        )

    def mark_withheld(self, delivery_id: str, reason: str, at: datetime) -> bool:
        return self._set(
            delivery_id,
            {"status": OutboxStatus.WITHHELD.value, "last_error": reason[:500], "updated_at": at},
            OutboxStatus.DEAD,
        )

    def dead(self, recipient: str | None = None, limit: int = 1000) -> list[OutboxRow]:
        stmt = select(OUTBOX).where(OUTBOX.c.status == OutboxStatus.DEAD.value)
        if recipient is not None:
            stmt = stmt.where(OUTBOX.c.recipient == recipient)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(stmt.order_by(OUTBOX.c.seq).limit(limit))]

    def has_recipient(self, recipient: str) -> bool:
        """Whether any delivery in the outbox is for `recipient` (one no longer configured, too)."""
        return any_found(self.engine, select(OUTBOX.c.seq).where(OUTBOX.c.recipient == recipient))

    def rows(self, recipient: str) -> list[OutboxRow]:
        stmt = select(OUTBOX).where(OUTBOX.c.recipient == recipient).order_by(OUTBOX.c.seq)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(stmt)]

    def counts(self) -> dict[tuple[str, str], int]:
        """(recipient, status) -> rows."""
        stmt = select(OUTBOX.c.recipient, OUTBOX.c.status, func.count()).group_by(
            OUTBOX.c.recipient, OUTBOX.c.status
        )
        with self.engine.connect() as conn:
            return {(r, s): int(n) for r, s, n in conn.execute(stmt)}

    def oldest_pending_age(self, recipient: str, now: datetime) -> timedelta | None:
        stmt = select(func.min(OUTBOX.c.created_at)).where(
            and_(OUTBOX.c.recipient == recipient, OUTBOX.c.status == OutboxStatus.PENDING.value)
        )
        with self.engine.connect() as conn:
            oldest = conn.execute(stmt).scalar_one_or_none()
        return None if oldest is None else now - _aware(oldest)

    # Endpoints (410 Gone disables one until an operator enables it again)

    def endpoint(self, recipient: str) -> EndpointState:
        stmt = select(ENDPOINT).where(ENDPOINT.c.recipient == recipient)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return EndpointState(recipient=recipient, disabled_at=None, reason="")
        disabled = row._mapping["disabled_at"]
        return EndpointState(
            recipient=recipient,
            disabled_at=_aware(disabled) if disabled is not None else None,
            reason=row._mapping["reason"],
        )

    def set_endpoint(
        self, recipient: str, disabled_at: datetime | None, reason: str, at: datetime
    ) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(
                update(ENDPOINT)
                .where(ENDPOINT.c.recipient == recipient)
                .values(disabled_at=disabled_at, reason=reason[:500], updated_at=at)
            ).rowcount
            if not done:
                insert_ignoring_duplicates(
                    conn,
                    ENDPOINT,
                    [
                        {
                            "recipient": recipient,
                            "disabled_at": disabled_at,
                            "reason": reason[:500],
                            "updated_at": at,
                        }
                    ],
                    "recipient",
                )
