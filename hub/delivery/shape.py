"""The one delivery shape receivers get (contract v2): webhook body, inbox item, Kafka record.

Built from the internal `Delivery` (what the router decided) and nothing else, so the three
channels cannot drift apart. Internal values never leave: not the audit's pseudonymous person
key (`subject_key`), not the recipient id (a receiver knows who it is), not the hub's decision
time or the agreement's purpose text (in the audit trail, for IG).

Message ids: `delivery_id` in the shape is the id of this *message* (`webhook-id`, Kafka
`ce_id`). A live delivery's id is the stable id of (source, event, recipient), the same on
every retry. A deliberate re-send (a replay, a redrive of a dead letter) is a new message with
a new id, derived from the original id, the mode and the moment the hub decided to send it
again (so a retry of that re-send keeps its id too), and carries `original_delivery_id`. A
correction or retraction is an event of its own (a new id) and carries the id of the delivery
it corrects as `original_delivery_id`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.routing.messages import Delivery, Mode, delivery_id

SHAPE_VERSION = 2
"""The delivery contract's version (v1: the webhook body was the hub's internal record)."""

RESENT = frozenset({Mode.REPLAY, Mode.REDRIVE})


def message_id(delivery: Delivery) -> str:
    """The id receivers de-duplicate on: stable across retries, new for a deliberate re-send."""
    if delivery.mode not in RESENT:
        return delivery.delivery_id
    parts = (delivery.delivery_id, delivery.mode.value, delivery.decided_at.isoformat())
    digest = hashlib.sha256("\x1f".join(("tell-it-once/resend/v1", *parts)).encode())
    return "dlv_" + digest.hexdigest()[:32]


def original_delivery_id(delivery: Delivery) -> str | None:
    """The delivery a re-send repeats, or a correction/retraction corrects; None when live."""
    if delivery.mode in RESENT:
        return delivery.delivery_id
    original = delivery.data.get("original_event_id") if delivery.mode is Mode.CORRECTION else None
    if isinstance(original, str):  # follow-ups go only to recipients of the source's own event
        return delivery_id(original, delivery.recipient, source=delivery.source)
    return None


class DeliveryMessage(BaseModel):
    """One update for one receiving system: the same object on every channel (contract v2)."""

    model_config = ConfigDict(frozen=True)

    version: int = Field(
        default=SHAPE_VERSION, description="The delivery contract's version: 2 (this shape)."
    )
    delivery_id: str = Field(
        description="This message's id (= the `webhook-id` header, the Kafka `ce_id`): the "
        "same on every retry of this message; de-duplicate on it"
    )
    original_delivery_id: str | None = Field(
        default=None,
        description="Set on a re-send (mode replay or redrive: the id of the delivery it "
        "repeats) and on a correction or retraction (the id of the delivery it corrects)",
    )
    mode: Mode = Field(
        default=Mode.LIVE,
        description="live (first send), replay (sent again under today's agreements), redrive "
        "(a dead letter sent again after a fix), correction (a correction or retraction of "
        "an earlier event)",
    )
    event_id: str = Field(description="The source's event id (ids are per source)")
    type: str = Field(description="The event type, e.g. address.changed")
    source: str = Field(description="The system that published the event")
    subject: str = Field(description="The hub person id (the Kafka key)")
    local_id: str | None = Field(
        default=None,
        description="Your own record id for the person; null: you have no record of them and "
        "your agreement lets you be told the matching fields to find or create one",
    )
    time: datetime = Field(description="When the change happened (the event's time)")
    flags: list[str] = Field(
        default=[], description="Facts about the person, e.g. deceased (a death was notified)"
    )
    agreement_id: str = Field(description="The data sharing agreement it is shared under")
    agreement_version: str = Field(description="That agreement's content version")
    lawful_basis: str = Field(description="The UK GDPR Art. 6 basis of the sharing")
    fields: list[str] = Field(description="The field paths in `data` (nothing else is there)")
    data: dict[str, Any] = Field(
        description="The minimised data: only the fields your agreement gives, in the event "
        "type's delivery schema (every field optional: absent when withheld)"
    )


def to_message(delivery: Delivery) -> DeliveryMessage:
    return DeliveryMessage(
        delivery_id=message_id(delivery),
        original_delivery_id=original_delivery_id(delivery),
        mode=delivery.mode,
        event_id=delivery.event_id,
        type=delivery.event_type,
        source=delivery.source,
        subject=delivery.subject,
        local_id=delivery.local_id,
        time=delivery.event_time,
        flags=list(delivery.subject_flags),
        agreement_id=delivery.agreement_id,
        agreement_version=delivery.agreement_version,
        lawful_basis=delivery.lawful_basis,
        fields=list(delivery.fields),
        data=delivery.data,
    )


def webhook_body(delivery: Delivery) -> bytes:
    """The webhook request body (JSON), signed as is."""
    return to_message(delivery).model_dump_json().encode()
