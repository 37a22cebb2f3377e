"""Read a CSV or XLSX file (as bytes) into a header and numbered rows of text cells.

A file that cannot be read at all (not UTF-8 from its first line, UTF-16, binary, no header,
blank or repeated column names, not a workbook) raises FileUnreadable. A single row that
cannot be taken (bytes that are not UTF-8, more cells than the header has columns) is kept
with its problem, so the rest of the file still goes through.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from hub.connectors.mapping import Cell, cell_text
from hub.errors import HubError, Problem

UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class FileUnreadable(HubError):
    """The whole file cannot be read as a table: it goes to `failed/` with this reason."""

    code = "file_unreadable"


@dataclass(frozen=True)
class TableRow:
    """Row `number` as a spreadsheet numbers it (the header is row 1)."""

    number: int
    cells: dict[str, Cell]
    key: tuple[Cell, ...]  # every cell in order: two rows with equal keys are duplicates
    problem: Problem | None = None

    @property
    def blank(self) -> bool:
        return self.problem is None and all(v is None for v in self.key)


@dataclass(frozen=True)
class ParsedTable:
    headers: list[str]
    rows: list[TableRow]


def read_table(data: bytes, file_name: str) -> ParsedTable:
    lower = file_name.lower()
    if lower.endswith(".xlsx"):
        return read_xlsx(data, file_name)
    if lower.endswith((".csv", ".txt")):
        return read_csv(data, file_name)
    raise FileUnreadable(f"{file_name}: only .csv and .xlsx files can be imported")


def _check_headers(headers: list[str], file_name: str) -> list[str]:
    headers = [h.strip() for h in headers]
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise FileUnreadable(f"{file_name}: the first row must hold the column names")
    if "" in headers:
        raise FileUnreadable(
            f"{file_name}: column {headers.index('') + 1} of the header row has no name"
        )
    seen: set[str] = set()
    for h in headers:
        if h in seen:
            raise FileUnreadable(f"{file_name}: the column name {h!r} appears twice")
        seen.add(h)
    return headers


def _not_utf8_message(file_name: str, data: bytes, exc: UnicodeDecodeError) -> str:
    line = data.count(b"\n", 0, exc.start) + 1
    return (
        f"{file_name}: line {line} is not UTF-8 (byte 0x{data[exc.start]:02x}); "
        "save the file as 'CSV UTF-8' and drop it again"
    )


def read_csv(data: bytes, file_name: str) -> ParsedTable:
    if data.startswith(_UTF16_BOMS):
        raise FileUnreadable(
            f"{file_name}: the file is UTF-16 (a 'Unicode text' export); save it as 'CSV UTF-8'"
        )
    if b"\x00" in data[:4096]:
        raise FileUnreadable(f"{file_name}: the file holds binary data, not CSV text")
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    try:
        text = data.decode("utf-8")
        mixed = False
    except UnicodeDecodeError as exc:
        first_line_end = data.find(b"\n")
        if first_line_end == -1 or exc.start < first_line_end:
            raise FileUnreadable(_not_utf8_message(file_name, data, exc)) from exc
        # A few rows in another encoding: those rows are reported, the others go through.
        text = data.decode("utf-8", errors="surrogateescape")
        mixed = True
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:8192], delimiters=",;\t|"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header_row = next(reader)
    except StopIteration:
        raise FileUnreadable(f"{file_name}: the file is empty") from None
    except csv.Error as exc:
        raise FileUnreadable(f"{file_name}: not a CSV file ({exc})") from exc
    headers = _check_headers(header_row, file_name)
    width = len(headers)
    rows: list[TableRow] = []
    number = 1
    try:
        for raw in reader:
            number += 1
            rows.append(_row(number, raw, headers, width, mixed))
    except csv.Error as exc:
        raise FileUnreadable(f"{file_name}: row {number} is not valid CSV ({exc})") from exc
    return ParsedTable(headers, rows)


def _row(number: int, raw: list[str], headers: list[str], width: int, mixed: bool) -> TableRow:
    problem = None
    if mixed:
        try:
            "\x1f".join(raw).encode("utf-8")
        except UnicodeEncodeError:
            problem = Problem(
                f"row {number}",
                "encoding",
                "the row is not UTF-8 (e.g. saved as Windows-1252); save the file as 'CSV UTF-8'",
            )
            raw = [v.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for v in raw]
    values = [cell_text(v) for v in raw]
    if len(values) > width and any(v is not None for v in values[width:]):
        problem = problem or Problem(
            f"row {number}",
            "extra_cells",
            f"the row has {len(values)} cells but the header names {width} columns",
        )
    cells = dict(zip(headers, values, strict=False))
    return TableRow(number, cells, tuple(values), problem)


def read_xlsx(data: bytes, file_name: str) -> ParsedTable:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileUnreadable(f"{file_name}: not an Excel workbook (.xlsx): {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        rows_iter: Iterator[tuple[object, ...]] = sheet.iter_rows(values_only=True)
        try:
            header_row = next(rows_iter)
        except StopIteration:
            raise FileUnreadable(f"{file_name}: the first sheet is empty") from None
        headers = _check_headers([cell_text(h) or "" for h in header_row], file_name)
        width = len(headers)
        rows = []
        for number, raw in enumerate(rows_iter, start=2):
            values = [cell_text(v) for v in raw]
            while len(values) > width and values[-1] is None:
                values.pop()
            problem = None
            if len(values) > width:
                problem = Problem(
                    f"row {number}",
                    "extra_cells",
                    f"the row has {len(values)} cells but the header names {width} columns",
                )
            rows.append(
                TableRow(number, dict(zip(headers, values, strict=False)), tuple(values), problem)
            )
        return ParsedTable(headers, rows)
    finally:
        workbook.close()
