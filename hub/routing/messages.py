"""Records the agents pass to each other on internal topics, as JSON."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


def delivery_id(event_id: str, recipient: str, *, source: str) -> str:
    """Stable id of the delivery of one event to one recipient: the same on every retry/replay.

    Event ids are per source, so the source is part of it: two sources' events with one id are
    two deliveries. (Before revision 0009 the id was derived from event id and recipient only:
    `legacy_delivery_id`; ids issued then are kept as they are.)
    """
    digest = hashlib.sha256(
        f"tell-it-once/delivery/v2\x1f{source}\x1f{event_id}\x1f{recipient}".encode()
    )
    return "dlv_" + digest.hexdigest()[:32]


def legacy_delivery_id(event_id: str, recipient: str) -> str:
    """The delivery id before event ids were per source (to recognise rows written then)."""
    digest = hashlib.sha256(f"tell-it-once/delivery\x1f{event_id}\x1f{recipient}".encode())
    return "dlv_" + digest.hexdigest()[:32]


class Outcome(StrEnum):
    DELIVERED = "delivered"
    WITHHELD = "withheld"
    FAILED = "failed"  # gave up after the retry budget (dead letter)
    ATTEMPT_FAILED = "attempt_failed"  # one webhook attempt that did not succeed (will retry)


class Mode(StrEnum):
    """Why a decision was made: the live flow, a replay/backfill, a correction, or a redrive."""

    LIVE = "live"
    REPLAY = "replay"
    CORRECTION = "correction"
    REDRIVE = "redrive"


class AuditReason(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    agreement_id: str | None = None


class Delivery(BaseModel):
    """A minimised update for one recipient (on `deliveries.<recipient>`)."""

    model_config = ConfigDict(frozen=True)

    delivery_id: str
    event_id: str
    event_type: str
    source: str
    subject: str
    subject_key: str
    recipient: str
    local_id: str | None
    event_time: datetime
    agreement_id: str
    agreement_version: str
    lawful_basis: str
    purpose: str
    fields: tuple[str, ...]
    data: dict[str, Any]
    decided_at: datetime
    mode: Mode = Mode.LIVE
    subject_flags: tuple[str, ...] = ()


class AuditEntry(BaseModel):
    """One decision or outcome for the audit trail (on the `audit` topic). Never holds values."""

    model_config = ConfigDict(frozen=True)

    entry_id: str
    delivery_id: str
    event_id: str
    event_type: str
    source: str
    recipient: str
    subject_key: str
    outcome: Outcome
    reasons: tuple[AuditReason, ...] = ()
    agreement_id: str | None = None
    agreement_version: str | None = None
    lawful_basis: str | None = None
    fields: tuple[str, ...] = ()
    event_time: datetime
    decided_at: datetime
    mode: Mode = Mode.LIVE
    local_id: str | None = None  # the recipient's own record id for the person (a reference)
    purpose: str | None = None
    subject_flags: tuple[str, ...] = ()  # e.g. ("deceased",)
    attempt: int | None = None  # delivery attempt details (webhooks)
    http_status: int | None = None
    latency_ms: float | None = None

    @staticmethod
    def make_id(
        delivery_id: str, outcome: Outcome, mode: Mode = Mode.LIVE, at: datetime | None = None
    ) -> str:
        """Stable per decision: a redelivered record is audited once. A replay is a decision of
        its own (made at `at`), audited beside the original, not swallowed as its duplicate."""
        if mode is Mode.REPLAY and at is not None:
            return f"{delivery_id}:{outcome.value}:replay:{at:%Y%m%dT%H%M%S%f}"
        return f"{delivery_id}:{outcome.value}"


def delivered_entry(delivery: Delivery, at: datetime) -> AuditEntry:
    return AuditEntry(
        entry_id=AuditEntry.make_id(
            delivery.delivery_id, Outcome.DELIVERED, delivery.mode, delivery.decided_at
        ),
        delivery_id=delivery.delivery_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        source=delivery.source,
        recipient=delivery.recipient,
        subject_key=delivery.subject_key,
        outcome=Outcome.DELIVERED,
        agreement_id=delivery.agreement_id,
        agreement_version=delivery.agreement_version,
        lawful_basis=delivery.lawful_basis,
        fields=delivery.fields,
        event_time=delivery.event_time,
        decided_at=at,
        mode=delivery.mode,
        local_id=delivery.local_id,
        purpose=delivery.purpose,
        subject_flags=delivery.subject_flags,
    )
