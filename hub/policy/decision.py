"""The router's decision: one pure, deterministic, default-deny function."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.config.model import Agreement, AgreementStatus, ConsentMode
from hub.events.envelope import Envelope
from hub.policy.minimise import minimise, shared_field_names
from hub.policy.reasons import ReasonCode
from hub.timeutil import uk_date


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    message: str
    agreement_id: str | None = None


@dataclass(frozen=True)
class ConsentState:
    """What the resident has said, per (subject, purpose). Empty until consent events exist."""

    granted: frozenset[tuple[str, str]] = frozenset()
    objected: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class IdentityLinks:
    """Each recipient system's own local id for a hub person: (subject, system) -> local id."""

    local_ids: Mapping[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class Allow:
    agreement: Agreement
    fields: tuple[str, ...]
    data: dict[str, Any]
    local_id: str | None

    allowed = True


@dataclass(frozen=True)
class Withhold:
    reasons: tuple[Reason, ...]

    allowed = False


Decision = Allow | Withhold


def _agreement_problem(agreement: Agreement, now: datetime) -> Reason | None:
    day = uk_date(now)  # "valid until 31 March" ends at midnight in London
    if agreement.status is not AgreementStatus.ACTIVE:
        return Reason(
            ReasonCode.AGREEMENT_NOT_ACTIVE,
            f"agreement {agreement.id} is {agreement.status.value}, not active",
            agreement.id,
        )
    if day < agreement.valid_from:
        return Reason(
            ReasonCode.AGREEMENT_NOT_YET_VALID,
            f"agreement {agreement.id} is valid from {agreement.valid_from.isoformat()}",
            agreement.id,
        )
    if agreement.valid_until is not None and day > agreement.valid_until:
        return Reason(
            ReasonCode.AGREEMENT_EXPIRED,
            f"agreement {agreement.id} expired on {agreement.valid_until.isoformat()}",
            agreement.id,
        )
    return None


def _consent_problem(agreement: Agreement, subject: str, consent: ConsentState) -> Reason | None:
    key = (subject, agreement.purpose)
    if agreement.consent is ConsentMode.REQUIRED and key not in consent.granted:
        return Reason(
            ReasonCode.NO_CONSENT,
            f"agreement {agreement.id} needs the resident's consent and none is on record",
            agreement.id,
        )
    if agreement.consent is ConsentMode.OPT_OUT and key in consent.objected:
        return Reason(
            ReasonCode.OBJECTION,
            f"the resident objected to sharing for: {agreement.purpose}",
            agreement.id,
        )
    return None


def decide(
    event: Envelope,
    data: Mapping[str, Any],
    recipient: str,
    agreements: Sequence[Agreement],
    consent: ConsentState,
    links: IdentityLinks,
    now: datetime,
) -> Decision:
    """Allow (with minimised data) only under an agreement that covers this exact flow today.

    Candidates are agreements naming the event's source as provider, the recipient, and the
    event type. They are tried in id order; the first with no problem wins. Otherwise the
    transfer is withheld with every candidate's reason (or `no_agreement` if there were none).
    """
    candidates = sorted(
        (
            a
            for a in agreements
            if event.source in a.providers and recipient in a.recipients and event.type in a.shares
        ),
        key=lambda a: a.id,
    )
    if not candidates:
        return Withhold(
            (
                Reason(
                    ReasonCode.NO_AGREEMENT,
                    f"no agreement lets {event.source} share {event.type} with {recipient}",
                ),
            )
        )
    reasons: list[Reason] = []
    for agreement in candidates:
        problem = _agreement_problem(agreement, now) or _consent_problem(
            agreement, event.subject, consent
        )
        if problem is not None:
            reasons.append(problem)
            continue
        allowed_fields = agreement.shares[event.type]
        return Allow(
            agreement=agreement,
            fields=shared_field_names(data, allowed_fields),
            data=minimise(data, allowed_fields),
            local_id=links.local_ids.get((event.subject, recipient)),
        )
    return Withhold(tuple(reasons))
