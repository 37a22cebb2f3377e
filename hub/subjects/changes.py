"""State changes carried by control events (`consent.changed`, `person.linked`, `death.notified`).

Pure: turning a validated event into the change it makes (who may make it: hub.policy.authority).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from hub.events.envelope import Event
from hub.policy.state import ConsentAction

CONSENT = "consent.changed"
LINK = "person.linked"
DEATH = "death.notified"
CONTROL_TYPES = frozenset({CONSENT, LINK})  # change the hub's state; not about a service record


@dataclass(frozen=True)
class ConsentChange:
    event_id: str
    subject: str
    action: ConsentAction
    purpose: str
    recipient: str | None
    effective_at: datetime
    source: str = ""  # event ids are per source: (source, event id) is the record's key


@dataclass(frozen=True)
class LinkChange:
    event_id: str
    subject: str
    system: str
    local_id: str
    linked_at: datetime
    source: str = ""  # who asserted it (the customer index or the system itself)


@dataclass(frozen=True)
class DeathChange:
    event_id: str
    subject: str
    deceased_on: date


def consent_change(event: Event) -> ConsentChange:
    d = event.data
    effective = d["effective_at"]
    return ConsentChange(
        event_id=event.envelope.id,
        source=event.envelope.source,
        subject=event.envelope.subject,
        action=ConsentAction(d["action"]),
        purpose=str(d["purpose"]),
        recipient=d.get("recipient"),
        effective_at=effective
        if isinstance(effective, datetime)
        else datetime.fromisoformat(effective),
    )


def link_change(event: Event) -> LinkChange:
    return LinkChange(
        event_id=event.envelope.id,
        subject=event.envelope.subject,
        system=str(event.data["system"]),
        local_id=str(event.data["local_id"]),
        linked_at=event.envelope.time,
        source=event.envelope.source,
    )


def death_change(event: Event) -> DeathChange:
    died = event.data["date_of_death"]
    return DeathChange(
        event_id=event.envelope.id,
        subject=event.envelope.subject,
        deceased_on=died if isinstance(died, date) else date.fromisoformat(died),
    )
