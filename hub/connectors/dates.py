"""Dates in councils' files as they write them: `20/11/2026` (UK order) or `2026-11-20` (ISO).

A mapping may name its own form with `date_format` (a `strptime` pattern, e.g. `%d.%m.%Y` or,
for a file in month/day order, `%m/%d/%Y`). Without one, a date is read as ISO 8601
(`yyyy-mm-dd`) or as UK day/month/year with a four-digit year (`20/11/2026`, `3/4/2026`: 3
April). Forms whose reading is a guess are refused: a two-digit year (which century?) or
year/month/day with slashes. ISO is accepted whatever `date_format` says, since spreadsheet
date cells arrive as ISO already.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from hub.errors import HubError

UK_FORM = "dd/mm/yyyy"
ISO_FORM = "yyyy-mm-dd"
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UK = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_READABLE = {
    "%d": "dd",
    "%m": "mm",
    "%Y": "yyyy",
    "%y": "yy",
    "%b": "Mon",
    "%B": "Month",
    "%H": "HH",
    "%M": "MM",
    "%S": "SS",
}
_PROBE = date(2026, 11, 20)  # day, month and year all differ: a pattern must keep them apart


class DateNotUnderstood(ValueError):
    """A cell that is not a date in any accepted form; `expected` says which forms are."""

    def __init__(self, expected: str) -> None:
        super().__init__(f"not a date in the form {expected}")
        self.expected = expected


class BadDateFormat(HubError):
    """A mapping's `date_format` that cannot read back the dates it writes."""

    code = "config_invalid"


def readable_form(date_format: str | None) -> str:
    """`%d/%m/%Y` -> `dd/mm/yyyy`, for messages to the person who made the file."""
    if date_format is None:
        return UK_FORM
    out = date_format
    for directive, words in _READABLE.items():
        out = out.replace(directive, words)
    return out


def expected_forms(date_format: str | None) -> str:
    return f"{readable_form(date_format)} or {ISO_FORM}"


def check_date_format(date_format: str) -> str:
    """The pattern, if it reads back a date it wrote (day, month and year all present)."""
    try:
        written = _PROBE.strftime(date_format)
        read = datetime.strptime(written, date_format).date()
    except ValueError as exc:
        raise BadDateFormat(
            f"date_format {date_format!r} is not a strptime pattern: {exc}"
        ) from exc
    if read != _PROBE:
        raise BadDateFormat(
            f"date_format {date_format!r} must hold the day, month and year "
            "(e.g. %d/%m/%Y, %d.%m.%Y, %m/%d/%Y)"
        )
    return date_format


def parse_date(text: str, date_format: str | None = None) -> date:
    """One cell's date; raises DateNotUnderstood naming the forms that are accepted."""
    value = text.strip()
    if _ISO.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise DateNotUnderstood(expected_forms(date_format)) from None
    if date_format is not None:
        try:
            return datetime.strptime(value, date_format).date()
        except ValueError:
            raise DateNotUnderstood(expected_forms(date_format)) from None
    match = _UK.match(value)
    if match is None:
        raise DateNotUnderstood(expected_forms(None))
    day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise DateNotUnderstood(expected_forms(None)) from None
