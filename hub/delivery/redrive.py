"""Redrive a dead letter under the policy in force now: re-minimised delivery, or withheld."""

from __future__ import annotations

from datetime import datetime

from hub.events.envelope import Envelope, Event
from hub.policy.decision import Allow
from hub.policy.state import SubjectState
from hub.routing.messages import AuditEntry, AuditReason, Delivery, Mode, Outcome
from hub.routing.route import decide_for
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
    if isinstance(decision, Allow):
        agreement = decision.agreement
        return delivery.model_copy(
            update={
                "agreement_id": agreement.id,
                "agreement_version": table.versions.get(agreement.id, agreement.version),
                "lawful_basis": agreement.lawful_basis,
                "purpose": agreement.purpose,
                "fields": tuple(f for f in decision.fields if _covered(f, delivery.fields)),
                "data": decision.data,
                "local_id": decision.local_id or delivery.local_id,
                "subject_flags": decision.flags,
                "decided_at": now,
                "mode": Mode.REDRIVE,
            }
        )
    first = decision.reasons[0]
    return AuditEntry(
        entry_id=redrive_entry_id(delivery.delivery_id),
        delivery_id=delivery.delivery_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        source=delivery.source,
        recipient=delivery.recipient,
        subject_key=delivery.subject_key,
        outcome=Outcome.WITHHELD,
        reasons=tuple(
            AuditReason(code=r.code.value, message=r.message, agreement_id=r.agreement_id)
            for r in decision.reasons
        ),
        agreement_id=first.agreement_id,
        agreement_version=table.versions.get(first.agreement_id or ""),
        event_time=delivery.event_time,
        decided_at=now,
        mode=Mode.REDRIVE,
        local_id=delivery.local_id,
    )
