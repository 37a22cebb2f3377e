"""Who received an event: the delivered rows of the audit trail, for corrections and retractions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select

from hub.db.tables import AuditRecord
from hub.routing.messages import Outcome
from hub.routing.route import OriginalTransfer

_TABLE = AuditRecord.__table__  # type: ignore[attr-defined]
_CHUNK = 500


class AuditOriginals:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def delivered(self, event_ids: Sequence[str]) -> dict[str, list[OriginalTransfer]]:
        """For each event id, every (recipient, source) it was delivered to (once each): event ids
        are per source, so two sources' events with one id are told apart by the caller."""
        found: dict[str, dict[tuple[str, str], OriginalTransfer]] = {}
        wanted = sorted(set(event_ids))
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), _CHUNK):
                stmt = select(
                    _TABLE.c.event_id, _TABLE.c.recipient, _TABLE.c.source, _TABLE.c.event_type
                ).where(
                    _TABLE.c.event_id.in_(wanted[i : i + _CHUNK])
                    & (_TABLE.c.outcome == Outcome.DELIVERED.value)
                )
                for r in conn.execute(stmt):
                    found.setdefault(r.event_id, {})[(r.recipient, r.source)] = OriginalTransfer(
                        r.recipient, r.source, r.event_type
                    )
        return {event_id: list(by.values()) for event_id, by in found.items()}
