"""Retention: delete the oldest audit rows, leaving a signed anchor so the rest still verifies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, func, select

from hub.audit.chain import as_utc
from hub.audit.checkpoint import Checkpoint, CheckpointKind, CheckpointStore
from hub.audit.ledger import AUDIT, lock_head


class PurgeResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    deleted: int
    anchor: Checkpoint | None


def purge_before(checkpoints: CheckpointStore, before: datetime, now: datetime) -> PurgeResult:
    """Delete the rows recorded before `before` (a prefix of the chain, in seq order) and record
    a signed purge checkpoint of the last deleted row's hash, in one transaction."""
    before = as_utc(before)
    with checkpoints.engine.begin() as conn:
        lock_head(conn)
        first_kept = conn.execute(
            select(func.min(AUDIT.c.seq)).where(AUDIT.c.recorded_at >= before)
        ).scalar_one_or_none()
        last_row = select(AUDIT.c.seq, AUDIT.c.row_hash).where(AUDIT.c.recorded_at < before)
        if first_kept is not None:
            last_row = last_row.where(AUDIT.c.seq < first_kept)
        last = conn.execute(last_row.order_by(AUDIT.c.seq.desc()).limit(1)).first()
        if last is None:
            return PurgeResult(deleted=0, anchor=None)
        last_seq, last_hash = int(last[0]), str(last[1])
        deleted = conn.execute(delete(AUDIT).where(AUDIT.c.seq <= last_seq)).rowcount
        previous = checkpoints.latest_purge()
        total = deleted + (previous.row_count if previous else 0)
        anchor = checkpoints.make(CheckpointKind.PURGE, last_seq, last_hash, total, now)
        checkpoints.record(conn, anchor)
    return PurgeResult(deleted=deleted, anchor=anchor)
