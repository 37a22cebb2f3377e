"""Explaining decisions: what the router would do with an event, and exactly why, sending nothing.

Uses the very functions the router uses (`decide_for`, `route_follow_up`), with the state of
the person as the database holds it now.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.config.model import HubConfig
from hub.events.envelope import Event
from hub.policy.authority import authorise
from hub.policy.decision import Allow, Decision, Reason, Withhold
from hub.policy.reasons import ReasonCode
from hub.policy.state import SubjectState
from hub.routing.route import (
    FOLLOW_UP_TYPES,
    OriginalTransfer,
    decide_for,
    follow_up_decision,
    original_of,
)
from hub.routing.table import RoutingTable
from hub.subjects.changes import CONTROL_TYPES


class ExplainedReason(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: ReasonCode
    message: str
    agreement_id: str | None = None


class Explanation(BaseModel):
    """The decision for one recipient, with everything IG needs to check it."""

    model_config = ConfigDict(frozen=True)

    recipient: str
    decision: Literal["allow", "withhold"]
    match_only: bool = Field(
        default=False, description="Allowed only the notify-to-match fields (no record there)"
    )
    reasons: tuple[ExplainedReason, ...] = ()
    agreement_id: str | None = None
    agreement_version: str | None = None
    lawful_basis: str | None = None
    article9_condition: str | None = None
    purpose: str | None = None
    fields: tuple[str, ...] = Field(default=(), description="Exactly the fields that would go")
    has_local_record: bool = False
    subject_flags: tuple[str, ...] = ()


class AuthorityVerdict(BaseModel):
    """Whether the source may assert this fact (systems.yaml `authority:`)."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    code: str | None = Field(default=None, description="e.g. no_death_authority, when refused")
    message: str


class FanOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    event_type: str
    source: str
    decided_at: datetime
    subject_resolved: bool = Field(description="Whether any system has a record of the person")
    authority: AuthorityVerdict = Field(
        description="Refused: the event would be rejected (events.rejected), nobody told"
    )
    recipients: tuple[Explanation, ...]


def explanation(recipient: str, decision: Decision, table: RoutingTable) -> Explanation:
    if isinstance(decision, Allow):
        a = decision.agreement
        return Explanation(
            recipient=recipient,
            decision="allow",
            match_only=decision.match_only,
            agreement_id=a.id,
            agreement_version=table.versions.get(a.id, a.version),
            lawful_basis=a.lawful_basis,
            article9_condition=a.article9_condition,
            purpose=a.purpose,
            fields=decision.fields,
            has_local_record=decision.local_id is not None,
            subject_flags=decision.flags,
        )
    first = decision.reasons[0]
    return Explanation(
        recipient=recipient,
        decision="withhold",
        reasons=tuple(
            ExplainedReason(code=r.code, message=r.message, agreement_id=r.agreement_id)
            for r in decision.reasons
        ),
        agreement_id=first.agreement_id,
        agreement_version=table.versions.get(first.agreement_id or ""),
    )


def explain(
    event: Event,
    recipients: Sequence[str],
    config: HubConfig,
    subject: SubjectState,
    now: datetime,
    originals: Sequence[OriginalTransfer] = (),
) -> FanOut:
    """The decision for each named recipient, as the router would make it now.

    `originals`: for a correction or retraction, who received the original (from the audit).
    """
    table = RoutingTable.build(config)
    env = event.envelope
    verdict = authorise(event, env.source, config)
    authority = AuthorityVerdict(
        allowed=verdict.allowed,
        code=verdict.code.value if verdict.code is not None else None,
        message=verdict.message,
    )
    if not verdict.allowed:  # rejected before any recipient is considered, nothing recorded
        return FanOut(
            event_id=env.id,
            event_type=env.type,
            source=env.source,
            decided_at=now,
            subject_resolved=subject.resolved,
            authority=authority,
            recipients=(),
        )
    own = [o for o in originals if o.source == env.source]
    received = {o.recipient: o for o in sorted(own or originals, key=lambda o: o.source)}
    unresolved = env.type not in CONTROL_TYPES | FOLLOW_UP_TYPES and not subject.resolved
    out: list[Explanation] = []
    for recipient in recipients:
        decision: Decision
        if env.type in FOLLOW_UP_TYPES:
            original = received.get(recipient)
            decision = (
                follow_up_decision(event, original, table, subject, now)
                if original is not None
                else Withhold(
                    (
                        Reason(
                            ReasonCode.ORIGINAL_NOT_RECEIVED,
                            f"{recipient} did not receive {original_of(event)[0]}",
                        ),
                    )
                )
            )
        elif unresolved:
            decision = Withhold(
                (
                    Reason(
                        ReasonCode.SUBJECT_UNRESOLVED,
                        "no system's record is linked to this person: the event would wait "
                        "in the review queue until one is (person.linked)",
                    ),
                )
            )
        else:
            decision = decide_for(event, recipient, table, subject, now)
        out.append(explanation(recipient, decision, table))
    return FanOut(
        event_id=env.id,
        event_type=env.type,
        source=env.source,
        decided_at=now,
        subject_resolved=subject.resolved,
        authority=authority,
        recipients=tuple(out),
    )
