"""Data quality counters: accepted and rejected events per day, source, event type and rule."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from hub.db.engine import any_found
from hub.db.tables import QualityCounter
from hub.errors import ProblemsError
from hub.timeutil import uk_date

_TABLE = QualityCounter.__table__  # type: ignore[attr-defined]
_KEY = ("day", "source", "event_type", "outcome", "rule")


@dataclass(frozen=True)
class Tally:
    """One observation: an event accepted, or rejected under a rule."""

    day: date
    source: str
    event_type: str
    outcome: str  # accepted | rejected
    rule: str = ""


def rule_tallies(rules: Iterable[str], source: str, event_type: str, at: datetime) -> list[Tally]:
    """One rejected count per distinct rule an event broke."""
    day = uk_date(at)
    return [Tally(day, source, event_type, "rejected", rule) for rule in sorted(set(rules))]


def rejection_tallies(
    exc: ProblemsError, source: str, event_type: str, at: datetime
) -> list[Tally]:
    """`rule_tallies` of the rules a validation error names."""
    return rule_tallies((p.rule for p in exc.problems), source, event_type, at)


class TallySink(Protocol):
    """Where the router reports what it accepted and rejected."""

    def add(self, tallies: Iterable[Tally]) -> None: ...


def add_tallies(conn: Connection, tallies: Iterable[Tally]) -> None:
    """`QualityCounters.add` in the caller's transaction (a connector counts a batch's
    rejections with the position that passes it: a connector killed in between neither loses
    them nor counts them twice)."""
    counts = Counter(tallies)
    if not counts:
        return
    rows = [{**t.__dict__, "count": n} for t, n in counts.items()]
    ins: Any = (sqlite if conn.dialect.name == "sqlite" else postgresql).insert(_TABLE)
    stmt = ins.on_conflict_do_update(
        index_elements=list(_KEY), set_={"count": _TABLE.c.count + ins.excluded.count}
    )
    conn.execute(stmt, rows)


class QualityRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str
    event_type: str
    outcome: str
    rule: str
    count: int


class QualityCounters:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, tallies: Iterable[Tally]) -> None:
        """Add a batch of observations with one upsert per distinct key."""
        tallies = list(tallies)
        if tallies:
            with self.engine.begin() as conn:
                add_tallies(conn, tallies)

    def has_source(self, source: str) -> bool:
        """Whether any event of `source` was ever counted (one no longer configured, too)."""
        return any_found(self.engine, select(_TABLE.c.day).where(_TABLE.c.source == source))

    def summary(
        self, since: date | None = None, source: str | None = None, until: date | None = None
    ) -> list[QualityRow]:
        """Totals from `since` to `until` (UK days, inclusive, either open), grouped by source,
        event type, outcome and rule."""
        cols = (_TABLE.c.source, _TABLE.c.event_type, _TABLE.c.outcome, _TABLE.c.rule)
        stmt = select(*cols, func.sum(_TABLE.c.count)).group_by(*cols).order_by(*cols)
        if since is not None:
            stmt = stmt.where(_TABLE.c.day >= since)
        if until is not None:
            stmt = stmt.where(_TABLE.c.day <= until)
        if source is not None:
            stmt = stmt.where(_TABLE.c.source == source)
        with self.engine.connect() as conn:
            return [
                QualityRow(source=s, event_type=t, outcome=o, rule=r, count=int(n))
                for s, t, o, r, n in conn.execute(stmt)
            ]
