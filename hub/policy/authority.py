"""Who may say what about a person: the authority a source system needs for each fact.

A tell-it-once hub spreads facts; each is only as good as the authority behind it. IG declares,
per system in systems.yaml, which facts it may assert (`authority:`); this pure function answers
for one event. The router rejects a fact without authority (to `events.rejected`, changing no
state) and the HTTP ingest refuses it at once (403), both with the same named reason.

- `death.notified`: only a system with `death: true` (e.g. the registrar);
- `consent.changed` granted or withdrawn: only for the purpose of an agreement listed in the
  system's `consent:` (or `all`); an objection, likewise under `objection:`;
- `person.linked`: a system's own records, or any (`link: any`, or `identity_provider: true`),
  or those of the systems listed in `link:`;
- every other event states a change to the source's own record and needs no authority here
  (corrections and retractions reach only the recipients of the source's own events).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hub.config.model import Agreement, HubConfig, System
from hub.errors import PermissionDenied
from hub.events.envelope import Event
from hub.policy.state import normalise_purpose

DEATH = "death.notified"
CONSENT = "consent.changed"
LINK = "person.linked"
FACT_TYPES = frozenset({DEATH, CONSENT, LINK})


class AuthorityCode(StrEnum):
    UNKNOWN_SOURCE = "unknown_source"
    NO_DEATH_AUTHORITY = "no_death_authority"
    NO_CONSENT_AUTHORITY = "no_consent_authority"
    NO_OBJECTION_AUTHORITY = "no_objection_authority"
    LINK_UNKNOWN_SYSTEM = "link_unknown_system"
    LINK_NOT_OWN_RECORD = "link_not_own_record"


@dataclass(frozen=True)
class AuthorityDecision:
    """The verdict for one event: allowed, or refused with a named code and a sentence."""

    allowed: bool
    message: str
    code: AuthorityCode | None = None

    @staticmethod
    def allow(message: str) -> AuthorityDecision:
        return AuthorityDecision(True, message)

    @staticmethod
    def refuse(code: AuthorityCode, message: str) -> AuthorityDecision:
        return AuthorityDecision(False, message, code)


class FactWithoutAuthority(PermissionDenied):
    """A source asserted a fact it has no authority for (HTTP 403, the code names the rule)."""

    def __init__(self, decision: AuthorityDecision) -> None:
        super().__init__(decision.message)
        self.code = (decision.code or AuthorityCode.UNKNOWN_SOURCE).value
        self.decision = decision


def authorise(event: Event, source: str, config: HubConfig) -> AuthorityDecision:
    """Whether `source` (the authenticated source system) may assert this validated event."""
    event_type, data = event.envelope.type, event.data
    if event_type not in FACT_TYPES:
        return AuthorityDecision.allow(f"{event_type} needs no authority beyond being a source")
    system = config.system(source)
    if system is None:
        return AuthorityDecision.refuse(
            AuthorityCode.UNKNOWN_SOURCE, f"{source!r} is not a system in systems.yaml"
        )
    if event_type == DEATH:
        return _death(system)
    if event_type == CONSENT:
        return _consent(system, data, config)
    return _link(system, data, config)


def _death(system: System) -> AuthorityDecision:
    if system.authority.death:
        return AuthorityDecision.allow(f"{system.id} may notify a death (authority: death)")
    return AuthorityDecision.refuse(
        AuthorityCode.NO_DEATH_AUTHORITY,
        f"{system.id} may not notify a death (systems.yaml gives it no `authority: death`); "
        "nothing was recorded",
    )


def _matching(data: Mapping[str, Any], config: HubConfig) -> list[Agreement]:
    """The agreements a consent fact applies to: same purpose, and the recipient (if named)."""
    purpose = normalise_purpose(str(data.get("purpose", "")))
    recipient = data.get("recipient")
    return [
        a
        for a in config.agreements
        if normalise_purpose(a.purpose) == purpose
        and (recipient is None or recipient in a.recipients)
    ]


def _consent(system: System, data: Mapping[str, Any], config: HubConfig) -> AuthorityDecision:
    objection = data.get("action") == "objection"
    kind = "an objection" if objection else "consent"
    declared = system.authority.objection if objection else system.authority.consent
    code = AuthorityCode.NO_OBJECTION_AUTHORITY if objection else AuthorityCode.NO_CONSENT_AUTHORITY
    key = "objection" if objection else "consent"
    if declared == "all":
        return AuthorityDecision.allow(f"{system.id} may record {kind} for any purpose")
    matching = sorted(a.id for a in _matching(data, config))
    allowed = sorted(set(matching) & set(declared))
    if allowed:
        return AuthorityDecision.allow(
            f"{system.id} may record {kind} under {', '.join(allowed)} (authority: {key})"
        )
    covered = ", ".join(matching) or "no agreement"
    mine = ", ".join(declared) or "none"
    return AuthorityDecision.refuse(
        code,
        f"{system.id} may not record {kind} for this purpose (it matches {covered}; "
        f"systems.yaml lets {system.id} record {kind} for: {mine}); nothing was recorded",
    )


def _link(system: System, data: Mapping[str, Any], config: HubConfig) -> AuthorityDecision:
    target = str(data.get("system", ""))
    if config.system(target) is None:
        return AuthorityDecision.refuse(
            AuthorityCode.LINK_UNKNOWN_SYSTEM, f"person.linked names unknown system {target!r}"
        )
    if system.may_link(target):
        whose = "its own records" if target == system.id else f"{target}'s records"
        return AuthorityDecision.allow(f"{system.id} may link {whose}")
    return AuthorityDecision.refuse(
        AuthorityCode.LINK_NOT_OWN_RECORD,
        f"{system.id} may only link its own records (system {target!r} is not its own, and "
        "systems.yaml does not let it link that system's records)",
    )
