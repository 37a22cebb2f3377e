"""The router's decision: one pure, deterministic, default-deny function."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from hub.config.model import AfterDeath, Agreement, AgreementStatus, ConsentMode
from hub.events.envelope import Envelope
from hub.policy.minimise import share
from hub.policy.reasons import ReasonCode
from hub.policy.state import ConsentAction, SubjectState, consent_in_force
from hub.timeutil import uk_date


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    message: str
    agreement_id: str | None = None


@dataclass(frozen=True)
class Allow:
    """Send `data` (only `fields`) under `agreement`; `match_only`: the recipient has no record
    of the person and gets the agreed matching fields so it can find or create one."""

    agreement: Agreement
    fields: tuple[str, ...]
    data: dict[str, Any]
    local_id: str | None
    match_only: bool = False
    flags: tuple[str, ...] = ()

    allowed = True


@dataclass(frozen=True)
class Withhold:
    reasons: tuple[Reason, ...]

    allowed = False


Decision = Allow | Withhold


def _agreement_problem(agreement: Agreement, day: date) -> Reason | None:
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


def _death_problem(agreement: Agreement, subject: SubjectState) -> Reason | None:
    if agreement.after_death is AfterDeath.STOP and subject.deceased_on is not None:
        return Reason(
            ReasonCode.SUBJECT_DECEASED,
            f"agreement {agreement.id} stops its flows after the person's death",
            agreement.id,
        )
    return None


def _consent_problem(
    agreement: Agreement, recipient: str, subject: SubjectState, now: datetime
) -> Reason | None:
    if agreement.consent is ConsentMode.NONE:
        return None
    fact = consent_in_force(subject.consent, agreement.purpose, recipient, now)
    said = None if fact is None else fact.action
    if agreement.consent is ConsentMode.REQUIRED and said is not ConsentAction.GRANTED:
        if fact is None:
            return Reason(
                ReasonCode.NO_CONSENT,
                f"agreement {agreement.id} needs the resident's consent and none is on record",
                agreement.id,
            )
        return Reason(
            ReasonCode.CONSENT_WITHDRAWN,
            f"agreement {agreement.id} needs the resident's consent, withdrawn "
            f"({fact.action.value}) from {fact.effective_at.isoformat()}",
            agreement.id,
        )
    if (
        agreement.consent is ConsentMode.OPT_OUT
        and fact is not None
        and fact.action is not ConsentAction.GRANTED
    ):
        return Reason(
            ReasonCode.OBJECTION,
            f"the resident objected from {fact.effective_at.isoformat()} to sharing for: "
            f"{agreement.purpose}",
            agreement.id,
        )
    return None


def _agreement_id(agreement: Agreement) -> str:
    return agreement.id


def decide(
    event: Envelope,
    data: Mapping[str, Any],
    recipient: str,
    agreements: Sequence[Agreement],
    subject: SubjectState,
    now: datetime,
) -> Decision:
    """Allow (with minimised data) only under an agreement that covers this exact flow now.

    Candidates are agreements naming the event's source as provider, the recipient, and the
    event type. They are tried in id order; the first with no problem wins. A recipient with
    no record of the person is allowed only the agreement's notify-to-match fields. Otherwise
    the transfer is withheld with every candidate's reason (`no_agreement` if there were none).
    """
    candidates = [
        a
        for a in agreements
        if event.source in a.providers and recipient in a.recipients and event.type in a.shares
    ]
    if len(candidates) > 1:  # the routing table gives one, in id order, for most flows
        candidates.sort(key=_agreement_id)
    if not candidates:
        return Withhold(
            (
                Reason(
                    ReasonCode.NO_AGREEMENT,
                    f"no agreement lets {event.source} share {event.type} with {recipient}",
                ),
            )
        )
    day = uk_date(now)  # "valid until 31 March" ends at midnight in London
    local_id = subject.links.get(recipient)
    reasons: list[Reason] = []
    for agreement in candidates:
        problem = (
            _agreement_problem(agreement, day)
            or _death_problem(agreement, subject)
            or _consent_problem(agreement, recipient, subject, now)
        )
        if problem is None and local_id is None:
            match_fields = agreement.notify_to_match.get(event.type)
            if match_fields:
                fields, shared = share(data, match_fields)
                return Allow(
                    agreement=agreement,
                    fields=fields,
                    data=shared,
                    local_id=None,
                    match_only=True,
                    flags=subject.flags,
                )
            problem = Reason(
                ReasonCode.NO_LOCAL_RECORD,
                f"{recipient} has no record linked to this person, and agreement "
                f"{agreement.id} does not allow notify-to-match",
                agreement.id,
            )
        if problem is not None:
            reasons.append(problem)
            continue
        fields, shared = share(data, agreement.shares[event.type])
        return Allow(
            agreement=agreement,
            fields=fields,
            data=shared,
            local_id=local_id,
            flags=subject.flags,
        )
    return Withhold(tuple(reasons))
