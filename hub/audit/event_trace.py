"""Why an event the hub knows of has no transfer in the audit trail: what the hub recorded of it
instead (rejected, held for review, accepted and not routed yet, routed to no one), so that
`hub audit list --event-id` answers "0 rows" with the reason, not a bare empty table.

Event ids are per source, so one id can name several sources' events: each is told apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, Executable, select

from hub.audit.chain import as_utc
from hub.audit.ledger import AUDIT
from hub.audit.queries import CLAIM, JOURNAL, REJECTED, REVIEW

Step = Literal["rejected", "held", "routed", "accepted"]
# what tells most about a source's event, first: a rejection or a hold says why nothing was
# sent; a claim says the router saw it; the journal only that the API took it in
_TELLING: tuple[Step, ...] = ("rejected", "held", "routed", "accepted")


@dataclass(frozen=True)
class Trace:
    """One thing a store recorded of a source's event."""

    source: str
    event_type: str
    step: Step
    at: datetime
    reason: str = ""  # rejected, held: why
    status: str = ""  # rejected: rejected or replayed; held: open, released or retried
    then_at: datetime | None = None  # replayed or resolved at
    then_as: str | None = None  # replayed as this event id


def _when(at: datetime) -> str:
    return as_utc(at).strftime("%Y-%m-%d %H:%M:%S UTC")


def _line(t: Trace, event_id: str) -> str:
    whose = f"{t.source}'s event {event_id!r}" if t.source else f"an event {event_id!r}"
    if t.event_type:
        whose += f" ({t.event_type})"
    if t.step == "rejected":
        said = f"{whose}: rejected {_when(t.at)}: {t.reason}."
        if t.status == "replayed" and t.then_at is not None:
            return f"{said} Replayed {_when(t.then_at)} as event {t.then_as!r}."
        return (
            f"{said} Nothing was sent. `hub events rejected` shows it; `hub events replay` "
            "sends it again once fixed."
        )
    if t.step == "held":
        said = f"{whose}: held for review {_when(t.at)}: {t.reason}."
        if t.status == "open":
            return f"{said} Not sent yet: `hub deliveries held` lists it."
        then = f" {_when(t.then_at)}" if t.then_at is not None else ""
        return f"{said} {t.status.capitalize()}{then}."
    if t.step == "routed":
        return (
            f"{whose}: routed {_when(t.at)}, and no transfer of it is recorded. A webhook's or "
            "a Kafka topic's entries follow within seconds; if none come, no receiving system "
            f"subscribes to {t.event_type}."
        )
    return (
        f"{whose}: accepted {_when(t.at)}, not routed yet: the router has not reached it "
        "(a backlog, or the worker is stopped: `hub health --worker`)."
    )


def why_untransferred(traces: Iterable[Trace], event_id: str) -> list[str]:
    """One line per source that used the id `event_id`: the most telling of what was recorded of
    its event (`_TELLING`; of two of a kind, the later). Pure."""
    best: dict[str, Trace] = {}
    for t in traces:
        kept = best.get(t.source)
        if kept is None or _TELLING.index(t.step) <= _TELLING.index(kept.step):
            best[t.source] = t  # of two of a kind, the later (`traces_of` gives them in time)
    return [_line(best[s], event_id) for s in sorted(best)]


def traces_of(engine: Engine, event_id: str) -> list[Trace]:
    """What the rejected store, the review queue, the claims and the journal hold of any
    source's event `event_id`, each store's in the order it was recorded (each look-up reads
    its table: ids are per source)."""

    def journal(r: Sequence[Any]) -> Trace:
        if r[3] == "accepted":
            return Trace(r[0], r[1], "accepted", r[2])
        return Trace(r[0], r[1], "routed", r[4] or r[2])  # routed or complete: handed over

    looks: list[tuple[Executable, Callable[[Sequence[Any]], Trace]]] = [
        (
            select(
                REJECTED.c.source, REJECTED.c.event_type, REJECTED.c.rejected_at,
                REJECTED.c.reason, REJECTED.c.status, REJECTED.c.replayed_at,
                REJECTED.c.replayed_as,
            ).where(REJECTED.c.event_id == event_id).order_by(REJECTED.c.seq),
            lambda r: Trace(r[0], r[1], "rejected", r[2], r[3], r[4], r[5], r[6]),
        ),
        (
            select(
                REVIEW.c.source, REVIEW.c.event_type, REVIEW.c.created_at, REVIEW.c.reason,
                REVIEW.c.status, REVIEW.c.resolved_at,
            ).where(REVIEW.c.event_id == event_id).order_by(REVIEW.c.seq),
            lambda r: Trace(r[0], r[1], "held", r[2], r[3], r[4], r[5]),
        ),
        (
            select(CLAIM.c.source, CLAIM.c.event_type, CLAIM.c.claimed_at)
            .where(CLAIM.c.event_id == event_id)
            .order_by(CLAIM.c.id),
            lambda r: Trace(r[0], r[1], "routed", r[2]),
        ),
        (
            select(
                JOURNAL.c.source, JOURNAL.c.event_type, JOURNAL.c.accepted_at,
                JOURNAL.c.status, JOURNAL.c.routed_at,
            ).where(JOURNAL.c.event_id == event_id).order_by(JOURNAL.c.seq),
            journal,
        ),
    ]  # fmt: skip
    with engine.connect() as conn:
        return [make(r) for stmt, make in looks for r in conn.execute(stmt)]


def why_no_transfer(engine: Engine, event_id: str) -> Sequence[str]:
    """`why_untransferred` from the stores, for an event id with no row in the audit trail.
    With rows, they are the answer: a link's own entry, for one, is recorded as the hub's
    (source `hub.identity`), so a source's event cannot be matched to its rows by name."""
    with engine.connect() as conn:
        if conn.execute(select(AUDIT.c.seq).where(AUDIT.c.event_id == event_id).limit(1)).first():
            return []
    return why_untransferred(traces_of(engine, event_id), event_id)
