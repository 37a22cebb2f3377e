"""What went out under a link: the deliveries to the linked system about the person, found in
the audit trail (references only), for IG when a link is undone."""

from __future__ import annotations

from sqlalchemy import Engine, select

from hub.db.tables import AuditRecord
from hub.identity.store import LinkRow
from hub.pseudonym import subject_key

_AUDIT = AuditRecord.__table__  # type: ignore[attr-defined]


def deliveries_under(
    engine: Engine, secret: str, link: LinkRow
) -> list[tuple[str, str, str, str, str]]:
    """(delivery id, event id, event type, decided at, outcome) sent to the link's system with
    its local id, since the link was made."""
    key = subject_key(secret, link.subject)
    stmt = (
        select(_AUDIT)
        .where(
            (_AUDIT.c.subject_key == key)
            & (_AUDIT.c.recipient == link.system)
            & (_AUDIT.c.local_id == link.local_id)
            & (_AUDIT.c.outcome == "delivered")
        )
        .order_by(_AUDIT.c.seq)
    )
    with engine.connect() as conn:
        return [
            (r.delivery_id, r.event_id, r.event_type, r.decided_at.isoformat(), r.outcome)
            for r in conn.execute(stmt)
        ]
