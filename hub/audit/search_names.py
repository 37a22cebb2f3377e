"""The names a transfer search filters on, and the ones the hub has never known.

A search for transfers to `wastee` (a typo), or about a person nobody has ever named, finds no
row; IG would read an empty page as "nothing was shared", when nothing was looked for. So a
search that finds nothing is refused when it names a recipient, source, agreement or event
type that is neither in the configuration in force nor anywhere in the audit trail (a system
retired from `systems.yaml` still has its history), or a person the hub has never seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hub.audit.queries import PersonRef, TransferQuery
from hub.config.model import HubConfig
from hub.errors import Problem
from hub.unknown_names import RECIPIENT, SOURCE, unknown_name


@dataclass(frozen=True)
class SearchNames:
    """What a search may name from the configuration in force and the schemas."""

    recipients: frozenset[str]
    sources: frozenset[str]
    agreements: frozenset[str]
    event_types: frozenset[str]

    @classmethod
    def of(cls, config: HubConfig, event_types: Iterable[str]) -> SearchNames:
        return cls(
            recipients=frozenset(s.id for s in config.recipients),
            sources=frozenset(s.id for s in config.sources),
            agreements=frozenset(a.id for a in config.agreements),
            event_types=frozenset(event_types),
        )


@dataclass(frozen=True)
class Filter:
    """A filter of the transfer search that names something: its parameter (as the API and
    the workbench spell it), the audit column it matches, and what it must name."""

    field: str
    column: str
    what: str  # what the value must be
    trail: str  # what the audit trail says of a value it never saw
    known: Callable[[SearchNames], frozenset[str]]
    value: Callable[[TransferQuery], str | None]


FILTERS = (
    Filter(
        "recipient", "recipient", RECIPIENT,
        "no transfer in the audit trail went to it", lambda n: n.recipients, lambda q: q.recipient,
    ),
    Filter(
        "source", "source", SOURCE,
        "no event in the audit trail came from it", lambda n: n.sources, lambda q: q.source,
    ),
    Filter(
        "agreement", "agreement_id", "an agreement in the configuration",
        "no transfer in the audit trail was made under it", lambda n: n.agreements,
        lambda q: q.agreement_id,
    ),
    Filter(
        "event_type", "event_type", "an event type the hub has a schema for",
        "no transfer in the audit trail was of that type", lambda n: n.event_types,
        lambda q: q.event_type,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Named:
    """One filter of a search with the value it was given."""

    filter: Filter
    value: str


def not_configured(q: TransferQuery, names: SearchNames) -> list[Named]:
    """The search's filters whose value the configuration in force (or the schemas) does not
    know: the audit trail is looked at for those only."""
    return [Named(f, v) for f in FILTERS if (v := f.value(q)) and v not in f.known(names)]


def names_anything(q: TransferQuery) -> bool:
    return any(f.value(q) for f in FILTERS)


def name_problem(n: Named, names: SearchNames) -> Problem:
    """Why a filter names nothing the hub knows, and what it could name instead."""
    f = n.filter
    return unknown_name(f.field, n.value, f.what, f.trail, f.known(names))


def person_problem(person: PersonRef) -> Problem:
    """A person no event, record link, consent or transfer has ever named."""
    if person.hub_id:
        return Problem(
            "hub_id",
            "unknown",
            f"the hub has never seen person {person.hub_id!r}: no event, record link, consent "
            "or transfer names them; check the id",
        )
    whose = f"{person.system}'s record" if person.system else "any system's record"
    return Problem(
        "local_id",
        "unknown",
        f"no person is linked to {whose} {person.local_id!r}, and no transfer carries that id; "
        "check the id" + (" and the system" if person.system else ""),
    )


def event_problem(event_id: str) -> Problem:
    """An event id no source's event ever had (as far as the hub has recorded)."""
    return Problem(
        "event_id",
        "unknown",
        f"the hub has no record of an event {event_id!r}: none was accepted, routed, held for "
        "review or rejected with that id; check the id (each source system's own)",
    )
