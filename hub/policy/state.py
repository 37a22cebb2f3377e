"""What the hub knows about one person that changes routing: consent, identity links, death.

Built from `consent.changed`, `person.linked` and `death.notified` events; durable in the
database (hub.policy.store), passed to the pure `decide` as one immutable value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType


class ConsentAction(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    OBJECTION = "objection"


def normalise_purpose(purpose: str) -> str:
    """Purposes match case-insensitively and ignoring runs of whitespace."""
    return " ".join(purpose.split()).casefold()


@dataclass(frozen=True)
class ConsentFact:
    """One thing the resident said: an action for a purpose (and maybe one recipient), from a time."""

    action: ConsentAction
    purpose: str
    recipient: str | None
    effective_at: datetime
    seq: int = 0  # order of recording: breaks ties between facts with the same time

    def applies_to(self, purpose: str, recipient: str) -> bool:
        return normalise_purpose(self.purpose) == normalise_purpose(purpose) and (
            self.recipient is None or self.recipient == recipient
        )


@dataclass(frozen=True)
class SubjectState:
    """Everything routing needs to know about one hub person."""

    consent: tuple[ConsentFact, ...] = ()
    links: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # ^ system id -> that system's local id
    deceased_on: date | None = None

    @property
    def resolved(self) -> bool:
        """Whether any system has a record linked to this person."""
        return bool(self.links)

    @property
    def flags(self) -> tuple[str, ...]:
        return ("deceased",) if self.deceased_on is not None else ()


UNKNOWN = SubjectState()


def consent_in_force(
    facts: Iterable[ConsentFact], purpose: str, recipient: str, now: datetime
) -> ConsentFact | None:
    """The latest fact (by effective time, then recording order) for this purpose and recipient.

    A fact for every recipient (recipient None) and one for this recipient compete on time:
    the resident's most recent word wins. Facts effective after `now` are not in force yet.
    """
    latest: ConsentFact | None = None
    for fact in facts:
        if fact.effective_at > now or not fact.applies_to(purpose, recipient):
            continue
        if latest is None or (fact.effective_at, fact.seq) >= (latest.effective_at, latest.seq):
            latest = fact
    return latest
