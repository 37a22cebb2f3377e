"""The IG workbench's other questions: an agreement's version history (from the audit rows each
version produced), checkpoints, the access log over a date range, and review-date reminders."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, Table, func, select

from hub.audit.bounds import in_chain
from hub.audit.ledger import AUDIT
from hub.audit.subject_access import ACCESS_LOG, AccessLogEntry, access_log_entries
from hub.config.model import Agreement, HubConfig
from hub.config.review import ReviewFlag, review_flags
from hub.db.tables import AuditCheckpoint
from hub.paging import Page, fetch_page
from hub.timeutil import uk_day_start, utc_bounds

__all__ = ["uk_day_start", "utc_bounds"]  # where the workbench's callers found them

CHECKPOINTS: Table = AuditCheckpoint.__table__  # type: ignore[attr-defined]


class VersionUse(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str
    first_used: datetime
    last_used: datetime
    transfers: int
    current: bool


def agreement_versions(engine: Engine, agreement: Agreement) -> list[VersionUse]:
    """Every version (content hash) of an agreement that decided a transfer, newest first, and
    the version in force now (also when it has decided nothing yet)."""
    stmt = (
        select(
            AUDIT.c.agreement_version,
            func.min(AUDIT.c.decided_at),
            func.max(AUDIT.c.decided_at),
            func.count(),
        )
        .where(AUDIT.c.agreement_id == agreement.id, in_chain())
        .group_by(AUDIT.c.agreement_version)
    )
    with engine.connect() as conn:
        rows = [(v, lo, hi, int(n)) for v, lo, hi, n in conn.execute(stmt) if v]
    uses = [
        VersionUse(
            version=v,
            first_used=_utc(lo),
            last_used=_utc(hi),
            transfers=n,
            current=v == agreement.version,
        )
        for v, lo, hi, n in rows
    ]
    uses.sort(key=lambda u: u.last_used, reverse=True)
    return uses


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class CheckpointRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    head_seq: int
    head_hash: str
    row_count: int
    created_at: datetime


def checkpoints(engine: Engine, number: int = 1, size: int = 50) -> Page[CheckpointRow]:
    """Checkpoints, newest first, a page at a time."""
    stmt = select(CHECKPOINTS).order_by(CHECKPOINTS.c.id.desc())
    with engine.connect() as conn:
        rows, total = fetch_page(conn, stmt, number, size)
    found = [
        CheckpointRow(
            kind=m["kind"],
            head_seq=m["head_seq"],
            head_hash=m["head_hash"],
            row_count=m["row_count"],
            created_at=_utc(m["created_at"]),
        )
        for m in (r._mapping for r in rows)
    ]
    return Page(found, total, number, size)


def access_log_between(
    engine: Engine,
    date_from: date | None,
    date_to: date | None,
    number: int = 1,
    size: int = 200,
) -> Page[AccessLogEntry]:
    """Who read about whom, newest first, within UK days from..to (inclusive), a page at a time."""
    start, end = utc_bounds(date_from, date_to)
    stmt = select(ACCESS_LOG).order_by(ACCESS_LOG.c.id.desc())
    if start is not None:
        stmt = stmt.where(ACCESS_LOG.c.accessed_at >= start)
    if end is not None:
        stmt = stmt.where(ACCESS_LOG.c.accessed_at < end)
    with engine.connect() as conn:
        rows, total = fetch_page(conn, stmt, number, size)
    return Page(access_log_entries(rows), total, number, size)


class Reminder(BaseModel):
    model_config = ConfigDict(frozen=True)

    agreement_id: str
    title: str
    data_owner: str
    review_by: date
    valid_until: date | None
    flags: tuple[ReviewFlag, ...]
    days_overdue: int  # negative: days left before review-by


REMINDER_FLAGS = frozenset({ReviewFlag.PAST_REVIEW, ReviewFlag.EXPIRING_SOON, ReviewFlag.EXPIRED})


def reminders(config: HubConfig, today: date) -> list[Reminder]:
    """Agreements past their review date, expired or expiring within 30 days, most overdue
    first (what the workbench, the `hub_agreements_needing_review` metric and the daily log
    warning report)."""
    out = []
    for a in config.agreements:
        flags = review_flags(a, today)
        if REMINDER_FLAGS.intersection(flags):
            out.append(
                Reminder(
                    agreement_id=a.id,
                    title=a.title,
                    data_owner=a.data_owner,
                    review_by=a.review_by,
                    valid_until=a.valid_until,
                    flags=flags,
                    days_overdue=(today - a.review_by).days,
                )
            )
    return sorted(out, key=lambda r: (-r.days_overdue, r.agreement_id))
