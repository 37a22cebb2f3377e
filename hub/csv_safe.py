"""CSV that is safe to open in a spreadsheet (OWASP "CSV injection").

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets: `=cmd|' /C calc'!A0` in a local id would run when IG opens the
export. Such a cell is prefixed with a single quote, which spreadsheets show as text; plain
numbers (`-5`, `+44`) are left alone. The csv module's quoting handles the rest (commas, quotes,
line breaks).

`defusedcsv` does the same for `= + - @ | %` but not for a leading tab or carriage return,
which OWASP lists, and it rewrites `|` inside a cell; it also ships no type hints. Hence this
small function.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


def safe_cell(value: object) -> object:
    """The value as a spreadsheet will read it as data, never as a formula."""
    if value is None or isinstance(value, int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def safe_csv(header: Iterable[object], rows: Iterable[Iterable[object]]) -> str:
    """CSV text (a header line, `\\n` line ends) with every cell made spreadsheet-safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([safe_cell(c) for c in header])
    writer.writerows([safe_cell(c) for c in row] for row in rows)
    return out.getvalue()
