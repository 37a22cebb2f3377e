"""Each row of an import becomes an event, a list of problems, a duplicate, or a blank: decided here.

The results file lists every row's outcome, so the person who dropped the file can fix the
rows that failed and drop just those again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from hub.connectors.ids import file_row_event_id
from hub.connectors.mapping import RowMapping
from hub.connectors.tabular import TableRow
from hub.csv_safe import safe_csv
from hub.errors import EventValidationError, HubError, PermissionDenied, Problem
from hub.events.envelope import Event
from hub.events.rules import RuleContext
from hub.events.schemas import SchemaRegistry
from hub.events.validation import build_event


class Outcome(StrEnum):
    PUBLISHED = "published"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    BLANK = "blank"


@dataclass(frozen=True)
class RowResult:
    row: int
    outcome: Outcome
    event_id: str = ""
    problems: tuple[Problem, ...] = ()
    event: Event | None = None

    @property
    def errors(self) -> str:
        return "; ".join(str(p) for p in self.problems)


@dataclass(frozen=True)
class ImportTarget:
    """Who the rows are published as, which event they become, and how columns map to it
    (None: the columns are named after the event's fields, see RowMapping.from_headers)."""

    source: str
    event_type: str
    mapping: RowMapping | None
    connector: str = ""


class RowDecider:
    """Turns rows into results in file order, remembering rows seen to spot duplicates."""

    def __init__(
        self,
        target: ImportTarget,
        sha256: str,
        registry: SchemaRegistry,
        ctx: RuleContext,
        file_name: str = "",
    ) -> None:
        self.target = target
        self.sha256 = sha256
        self.registry = registry
        self.ctx = ctx
        self.file_name = file_name  # named in the problems of a date cell
        try:
            self.date_paths = registry.latest(target.event_type).date_paths()
        except HubError:  # an unknown type: validation reports it on every row
            self.date_paths = frozenset()
        self._seen: dict[tuple[str | None, ...], RowResult] = {}

    def decide(self, row: TableRow) -> RowResult:
        event_id = file_row_event_id(
            self.sha256, self.target.source, self.target.event_type, row.number
        )
        if row.problem is not None:
            return RowResult(row.number, Outcome.REJECTED, "", (row.problem,))
        if row.blank:
            return RowResult(row.number, Outcome.BLANK)
        first = self._seen.get(row.key)
        if first is not None:
            return RowResult(
                row.number,
                Outcome.DUPLICATE,
                first.event_id,
                (Problem(f"row {row.number}", "duplicate_row", f"same as row {first.row}"),),
            )
        assert self.target.mapping is not None
        cells, bad_dates = self.target.mapping.read_dates(row.cells, self.date_paths)
        raw = self.target.mapping.to_submission(cells, event_id)
        date_problems = tuple(self._date_problem(row.number, c, form) for c, form in bad_dates)
        date_fields = {
            f"data.{'.'.join(f.path)}"
            for f in self.target.mapping.fields
            if f.columns[0] in {c for c, _ in bad_dates}
        }
        try:
            event = build_row_event(raw, self.target.source, self.registry, self.ctx)
        except EventValidationError as exc:
            others = tuple(p for p in exc.problems if p.location not in date_fields)
            result = RowResult(row.number, Outcome.REJECTED, "", date_problems + others)
        else:
            if date_problems:  # pragma: no cover - a cell that is no date fails validation
                result = RowResult(row.number, Outcome.REJECTED, "", date_problems)
            else:
                result = RowResult(row.number, Outcome.PUBLISHED, event_id, (), event)
        self._seen[row.key] = result
        return result

    def _date_problem(self, number: int, column: str, expected: str) -> Problem:
        where = f"{self.file_name} row {number}" if self.file_name else f"row {number}"
        return Problem(
            f"{where}, column {column}",
            "date_format",
            f"not a date in the form {expected}; another form needs `date_format` in the"
            " connector's mapping",
        )


def build_row_event(
    raw: dict[str, object], source: str, registry: SchemaRegistry, ctx: RuleContext
) -> Event:
    try:
        return build_event(raw, source, registry, ctx)
    except PermissionDenied as exc:  # pragma: no cover - the mapping never sets `source`
        raise EventValidationError(str(exc), [Problem("source", "own_source", str(exc))]) from exc


RESULT_COLUMNS = ("row", "outcome", "event_id", "errors")


def results_csv(results: Iterable[RowResult]) -> str:
    """The results file: one line per row of the input (blank rows included), in order."""
    return safe_csv(
        RESULT_COLUMNS, ((r.row, r.outcome.value, r.event_id, r.errors) for r in results)
    )
