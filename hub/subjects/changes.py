"""State changes carried by control events (`consent.changed`, `person.linked`, `death.notified`).

Pure: turning a validated event into the change it makes, and who may make it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from hub.config.model import HubConfig
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


@dataclass(frozen=True)
class LinkChange:
    event_id: str
    subject: str
    system: str
    local_id: str
    linked_at: datetime


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
    )


def death_change(event: Event) -> DeathChange:
    died = event.data["date_of_death"]
    return DeathChange(
        event_id=event.envelope.id,
        subject=event.envelope.subject,
        deceased_on=died if isinstance(died, date) else date.fromisoformat(died),
    )


def link_refusal(link: LinkChange, publisher: str, config: HubConfig) -> str | None:
    """Why `publisher` may not link this record (None: it may).

    A source system links its own records; an identity provider (a system with
    `identity_provider: true`, e.g. the corporate customer index) links any system's.
    """
    target = config.system(link.system)
    if target is None:
        return f"person.linked names unknown system {link.system!r}"
    if link.system == publisher:
        return None
    source = config.system(publisher)
    if source is not None and source.identity_provider:
        return None
    return (
        f"{publisher} may only link its own records (system {link.system!r} is not its own, "
        "and it is not an identity provider)"
    )
