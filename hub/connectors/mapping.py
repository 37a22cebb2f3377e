"""Column mapping: a row of cells (CSV, XLSX or SQL) -> an event submission, as POST /v1/events takes it.

A mapping names, for each event field path, the column (or, for a list field such as
`new_address.lines`, the columns) holding it. `subject`, `time` and `correlation_id` are the
envelope's; every other path is a field of the event's data. Empty cells are left out, so a
missing value is reported by validation as missing. Date fields (the schema's `date` fields) are
read in the mapping's `date_format`, or UK day/month/year, or ISO (hub.connectors.dates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from hub.connectors.dates import DateNotUnderstood, parse_date

ENVELOPE_FIELDS = ("subject", "time", "correlation_id")

Cell = str | None


def cell_text(value: object) -> Cell:
    """A cell as text: blanks are None, whole numbers lose `.0`, dates are ISO 8601."""
    if value is None:
        return None
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class FieldMap:
    """One event field path and the column(s) it is read from."""

    path: tuple[str, ...]
    columns: tuple[str, ...]
    is_list: bool = False


@dataclass(frozen=True)
class RowMapping:
    event_type: str
    fields: tuple[FieldMap, ...]
    constants: tuple[tuple[tuple[str, ...], Any], ...] = ()
    date_format: str | None = None  # None: dd/mm/yyyy (UK) or ISO

    @classmethod
    def from_config(
        cls,
        event_type: str,
        mapping: Mapping[str, str | list[str]],
        constants: Mapping[str, Any] | None = None,
        date_format: str | None = None,
    ) -> RowMapping:
        fields = tuple(
            FieldMap(
                tuple(path.split(".")),
                (cols,) if isinstance(cols, str) else tuple(cols),
                not isinstance(cols, str),
            )
            for path, cols in mapping.items()
        )
        consts = tuple((tuple(p.split(".")), v) for p, v in (constants or {}).items())
        return cls(event_type, fields, consts, date_format)

    @classmethod
    def from_headers(cls, event_type: str, headers: list[str]) -> RowMapping:
        """Columns named after the fields (`subject`, `new_address.uprn`); a list field takes
        numbered columns (`new_address.lines.1`, `new_address.lines.2`, ...)."""
        singles: dict[str, str] = {}
        lists: dict[str, list[str]] = {}
        for header in headers:
            head, _, last = header.rpartition(".")
            if head and last.isdigit():
                lists.setdefault(head, []).append(header)
            elif header:
                singles[header] = header
        mapping: dict[str, str | list[str]] = {**singles}
        for path, cols in lists.items():
            mapping[path] = sorted(cols, key=lambda c: int(c.rpartition(".")[2]))
        return cls.from_config(event_type, mapping)

    @property
    def columns(self) -> frozenset[str]:
        return frozenset(c for f in self.fields for c in f.columns)

    def read_dates(
        self, cells: Mapping[str, Cell], date_paths: frozenset[str]
    ) -> tuple[dict[str, Cell], list[tuple[str, str]]]:
        """The row with the cells of date fields rewritten as ISO dates, and the (column,
        expected form) of each cell that is not a date in an accepted form (left as it was)."""
        out = dict(cells)
        bad: list[tuple[str, str]] = []
        for field in self.fields:
            if field.is_list or ".".join(field.path) not in date_paths:
                continue
            column = field.columns[0]
            value = out.get(column)
            if value is None:
                continue
            try:
                out[column] = parse_date(value, self.date_format).isoformat()
            except DateNotUnderstood as exc:
                bad.append((column, exc.expected))
        return out, bad

    def to_submission(self, cells: Mapping[str, Cell], event_id: str) -> dict[str, Any]:
        """The submission for one row (validated afterwards by hub.events.validation)."""
        out: dict[str, Any] = {"type": self.event_type, "id": event_id}
        data: dict[str, Any] = {}
        for path, constant in self.constants:
            _put(data, path, constant)
        for field in self.fields:
            value: Any
            if field.is_list:
                value = [v for v in (cells.get(c) for c in field.columns) if v is not None]
                if not value:
                    continue
            else:
                value = cells.get(field.columns[0])
                if value is None:
                    continue
            if len(field.path) == 1 and field.path[0] in ENVELOPE_FIELDS:
                out[field.path[0]] = value
            else:
                _put(data, field.path, value)
        out["data"] = data
        return out


def _put(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = target[part] = {}
        target = nxt
    target[path[-1]] = value
