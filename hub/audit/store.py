"""The SQL audit store: batched idempotent writes, and reads for IG and the demo."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, select

from hub.db.engine import insert_ignoring_duplicates
from hub.db.tables import AuditRecord
from hub.routing.messages import AuditEntry

_TABLE = AuditRecord.__table__  # type: ignore[attr-defined]


class AuditRow(BaseModel):
    """An audit record as read back from the store."""

    model_config = ConfigDict(frozen=True)

    seq: int
    recorded_at: datetime
    event_id: str
    event_type: str
    source: str
    recipient: str
    subject_key: str
    outcome: str
    reason_codes: tuple[str, ...]
    reasons: tuple[str, ...]
    agreement_id: str | None
    agreement_version: str | None
    lawful_basis: str | None
    fields: tuple[str, ...]
    delivery_id: str
    event_time: datetime
    decided_at: datetime


class AuditFilter(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_ids: tuple[str, ...] = ()
    recipient: str | None = None
    outcome: str | None = None
    after_seq: int = 0
    limit: int = 100


class AuditStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, entries: Sequence[AuditEntry], recorded_at: datetime) -> int:
        """Insert a batch in one statement; entries already recorded (redelivery) are skipped."""
        rows = [
            {
                "entry_id": e.entry_id,
                "recorded_at": recorded_at,
                "delivery_id": e.delivery_id,
                "event_id": e.event_id,
                "event_type": e.event_type,
                "source": e.source,
                "recipient": e.recipient,
                "subject_key": e.subject_key,
                "outcome": e.outcome.value,
                "reason_codes": ",".join(r.code for r in e.reasons),
                "reasons": json.dumps([r.message for r in e.reasons]),
                "agreement_id": e.agreement_id,
                "agreement_version": e.agreement_version,
                "lawful_basis": e.lawful_basis,
                "fields": json.dumps(list(e.fields)),
                "event_time": e.event_time,
                "decided_at": e.decided_at,
            }
            for e in entries
        ]
        with self.engine.begin() as conn:
            return insert_ignoring_duplicates(conn, _TABLE, rows, "entry_id")

    def query(self, flt: AuditFilter) -> list[AuditRow]:
        stmt = select(_TABLE).where(_TABLE.c.seq > flt.after_seq)
        if flt.event_ids:
            stmt = stmt.where(_TABLE.c.event_id.in_(flt.event_ids))
        if flt.recipient:
            stmt = stmt.where(_TABLE.c.recipient == flt.recipient)
        if flt.outcome:
            stmt = stmt.where(_TABLE.c.outcome == flt.outcome)
        stmt = stmt.order_by(_TABLE.c.seq).limit(flt.limit)
        with self.engine.connect() as conn:
            return [_row(r._mapping) for r in conn.execute(stmt)]

    def count(self) -> int:
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(_TABLE)).scalar_one())


def _row(m: object) -> AuditRow:
    from collections.abc import Mapping

    assert isinstance(m, Mapping)
    return AuditRow(
        seq=m["seq"],
        recorded_at=m["recorded_at"],
        event_id=m["event_id"],
        event_type=m["event_type"],
        source=m["source"],
        recipient=m["recipient"],
        subject_key=m["subject_key"],
        outcome=m["outcome"],
        reason_codes=tuple(c for c in m["reason_codes"].split(",") if c),
        reasons=tuple(json.loads(m["reasons"])),
        agreement_id=m["agreement_id"],
        agreement_version=m["agreement_version"],
        lawful_basis=m["lawful_basis"],
        fields=tuple(json.loads(m["fields"])),
        delivery_id=m["delivery_id"],
        event_time=m["event_time"],
        decided_at=m["decided_at"],
    )
