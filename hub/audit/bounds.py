"""Which audit rows are the audit trail: those inside the chain, after the latest purge anchor
(or genesis) and up to the chain head. A row outside (seq <= 0, at or below the purge anchor,
or past the head) was not appended by the hub's writer: `hub audit verify` reports it, and no
read of the audit (CLI, API, dashboard) ever shows it as audit."""

from __future__ import annotations

from sqlalchemy import Table, and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from hub.audit.ledger import AUDIT, HEAD, HEAD_ID
from hub.db.tables import AuditCheckpoint

CHECKPOINTS: Table = AuditCheckpoint.__table__  # type: ignore[attr-defined]
PURGE_KIND = "purge"


def _head() -> ColumnElement[int]:
    head = select(HEAD.c.head_seq).where(HEAD.c.id == HEAD_ID).scalar_subquery()
    return func.coalesce(head, 0)


def _anchor() -> ColumnElement[int]:
    anchor = (
        select(func.max(CHECKPOINTS.c.head_seq))
        .where(CHECKPOINTS.c.kind == PURGE_KIND)
        .scalar_subquery()
    )
    return func.coalesce(anchor, 0)


def in_chain() -> ColumnElement[bool]:
    """Rows of the audit trail. Read in the same statement as the head, so a batch appended
    meanwhile is either wholly in (rows and head moved together) or wholly out."""
    return and_(AUDIT.c.seq > 0, AUDIT.c.seq > _anchor(), AUDIT.c.seq <= _head())


def outside_chain() -> ColumnElement[bool]:
    return or_(AUDIT.c.seq <= 0, AUDIT.c.seq <= _anchor(), AUDIT.c.seq > _head())
