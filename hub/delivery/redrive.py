"""Redrive a dead letter under the policy in force now: re-minimised delivery, or withheld."""

from __future__ import annotations

from datetime import datetime

from hub.events.envelope import Envelope, Event
from hub.policy.state import SubjectState
from hub.routing.messages import AuditEntry, Delivery, Mode, Outcome
from hub.routing.route import decide_for, outcome_of
from hub.routing.table import RoutingTable


def _covered(field: str, sent: tuple[str, ...]) -> bool:
    return any(field == s or field.startswith(s + ".") or s.startswith(field + ".") for s in sent)


def redrive_entry_id(delivery_id: str) -> str:
    return f"{AuditEntry.make_id(delivery_id, Outcome.WITHHELD)}:redrive"


def redecide(
    delivery: Delivery, table: RoutingTable, subject: SubjectState, now: datetime
) -> Delivery | AuditEntry:
    """Decide again from the delivery's own (already minimised) data and today's agreements.

    Allowed: the delivery again (same id), re-minimised to the current agreement, mode redrive.
    Not allowed: a `withheld` audit entry with the reasons, mode redrive."""
    event = Event(
        envelope=Envelope(
            id=delivery.event_id,
            source=delivery.source,
            type=delivery.event_type,
            subject=delivery.subject,
            time=delivery.event_time,
        ),
        data=delivery.data,
    )
    decision = decide_for(event, delivery.recipient, table, subject, now)
    decided = outcome_of(
        event.envelope, delivery.recipient, decision, table, delivery.subject_key, now, Mode.REDRIVE
    )
    if isinstance(decided, Delivery):
        return decided.model_copy(
            update={
                "fields": tuple(f for f in decided.fields if _covered(f, delivery.fields)),
                "local_id": decided.local_id or delivery.local_id,
            }
        )
    return decided.model_copy(
        update={"entry_id": redrive_entry_id(delivery.delivery_id), "local_id": delivery.local_id}
    )
