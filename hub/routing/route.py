"""Route one event: ask `decide` per recipient, produce deliveries and audit entries.

Live events go to every subscribed recipient. A `correction` or `retraction` goes to every
recipient that received the original (found from the audit trail), under the policy in force now.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.events.envelope import Envelope, Event
from hub.policy.decision import Allow, Decision, Reason, Withhold, decide
from hub.policy.reasons import ReasonCode
from hub.policy.state import SubjectState
from hub.pseudonym import subject_key
from hub.routing.messages import AuditEntry, AuditReason, Delivery, Mode, Outcome, delivery_id
from hub.routing.table import RoutingTable

FOLLOW_UP_TYPES = frozenset({"correction", "retraction"})


@dataclass(frozen=True)
class RoutingResult:
    deliveries: tuple[Delivery, ...]
    withheld: tuple[AuditEntry, ...]


@dataclass(frozen=True)
class OriginalTransfer:
    """A recipient that received an earlier event (from the audit trail)."""

    recipient: str
    source: str
    event_type: str


def decide_for(
    event: Event, recipient: str, table: RoutingTable, subject: SubjectState, now: datetime
) -> Decision:
    """`decide` for one recipient of a live event, with the table's narrowing of agreements."""
    env = event.envelope
    if recipient not in table.subscribers_ids(env.type):
        return Withhold(
            (
                Reason(
                    ReasonCode.NOT_SUBSCRIBED,
                    f"{recipient} does not subscribe to {env.type}",
                ),
            )
        )
    candidates = table.agreements_for(env.source, recipient, env.type)
    return decide(env, event.data, recipient, candidates, subject, now)


def outcome_of(
    env: Envelope,
    recipient: str,
    decision: Decision,
    table: RoutingTable,
    key: str,
    now: datetime,
    mode: Mode,
    payload: dict[str, Any] | None = None,
) -> Delivery | AuditEntry:
    did = delivery_id(env.id, recipient, source=env.source)
    if isinstance(decision, Allow):
        agreement = decision.agreement
        return Delivery(
            delivery_id=did,
            event_id=env.id,
            event_type=env.type,
            source=env.source,
            subject=env.subject,
            subject_key=key,
            recipient=recipient,
            local_id=decision.local_id,
            event_time=env.time,
            agreement_id=agreement.id,
            agreement_version=table.versions.get(agreement.id) or agreement.version,
            lawful_basis=agreement.lawful_basis,
            purpose=agreement.purpose,
            fields=decision.fields,
            data=decision.data if payload is None else payload,
            decided_at=now,
            mode=mode,
            subject_flags=decision.flags,
        )
    first = decision.reasons[0]
    return AuditEntry(
        entry_id=AuditEntry.make_id(did, Outcome.WITHHELD, mode, now),
        delivery_id=did,
        event_id=env.id,
        event_type=env.type,
        source=env.source,
        recipient=recipient,
        subject_key=key,
        outcome=Outcome.WITHHELD,
        reasons=tuple(
            AuditReason(code=r.code.value, message=r.message, agreement_id=r.agreement_id)
            for r in decision.reasons
        ),
        agreement_id=first.agreement_id,
        agreement_version=table.versions.get(first.agreement_id or ""),
        event_time=env.time,
        decided_at=now,
        mode=mode,
    )


def _result(items: Sequence[Delivery | AuditEntry]) -> RoutingResult:
    return RoutingResult(
        tuple(i for i in items if isinstance(i, Delivery)),
        tuple(i for i in items if isinstance(i, AuditEntry)),
    )


def route_event(
    event: Event,
    table: RoutingTable,
    subject: SubjectState,
    now: datetime,
    pseudonym_secret: str,
    mode: Mode = Mode.LIVE,
) -> RoutingResult:
    env = event.envelope
    key = subject_key(pseudonym_secret, env.subject)
    return _result(
        [
            outcome_of(
                env,
                recipient.id,
                decide(
                    env,
                    event.data,
                    recipient.id,
                    table.agreements_for(env.source, recipient.id, env.type),
                    subject,
                    now,
                ),
                table,
                key,
                now,
                mode,
            )
            for recipient in table.subscribers_of(env.type)
        ]
    )


def original_of(event: Event) -> tuple[str, str]:
    """(original event id, original event type) of a correction or retraction."""
    return str(event.data["original_event_id"]), str(event.data["original_event_type"])


def follow_up_decision(
    event: Event,
    original: OriginalTransfer,
    table: RoutingTable,
    subject: SubjectState,
    now: datetime,
) -> Decision:
    """The decision for a correction or retraction to one recipient of the original.

    The policy is that of the original flow (source, recipient, original event type) in force
    now; a correction is allowed only the corrected fields that flow allows.
    """
    env = event.envelope
    original_id, original_type = original_of(event)
    if original.source != env.source:
        return Withhold(
            (
                Reason(
                    ReasonCode.ORIGINAL_NOT_RECEIVED,
                    f"{original.recipient} received {original_id} from {original.source}, "
                    f"not from {env.source}",
                ),
            )
        )
    corrected: dict[str, Any] = (
        json.loads(event.data["corrected_data"]) if env.type == "correction" else {}
    )
    return decide(
        env.model_copy(update={"type": original_type}),
        corrected,
        original.recipient,
        table.agreements_for(env.source, original.recipient, original_type),
        subject,
        now,
    )


def route_follow_up(
    event: Event,
    originals: Sequence[OriginalTransfer],
    table: RoutingTable,
    subject: SubjectState,
    now: datetime,
    pseudonym_secret: str,
) -> RoutingResult:
    """A correction or retraction, to each recipient that received the original, if allowed now."""
    env = event.envelope
    original_id, original_type = original_of(event)
    key = subject_key(pseudonym_secret, env.subject)
    items: list[Delivery | AuditEntry] = []
    # Event ids are per source: the source's own event with that id is the one it corrects;
    # only if it has none are other sources' events with the id answered (withheld, not its own).
    own = [o for o in originals if o.source == env.source]
    for original in sorted(own or originals, key=lambda o: (o.recipient, o.source)):
        decision = follow_up_decision(event, original, table, subject, now)
        payload: dict[str, Any] = {
            "original_event_id": original_id,
            "original_event_type": original_type,
        }
        if isinstance(decision, Allow) and env.type == "correction":
            payload["corrected"] = decision.data
        items.append(
            outcome_of(env, original.recipient, decision, table, key, now, Mode.CORRECTION, payload)
        )
    return _result(items)
