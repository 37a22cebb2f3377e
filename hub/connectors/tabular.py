"""Read a CSV or XLSX file (as bytes) into a header and numbered rows of text cells.

A CSV is read in the encoding it was saved in: UTF-8 (with or without a BOM), or, when it is
not UTF-8, the encoding charset-normalizer recognises (Windows-1252, Excel's "CSV" on a UK
Windows machine, when it is among the plausible ones). A UTF-8 file with some rows saved in
another encoding keeps those rows out, each reported with its row and column.

A file that cannot be read at all (a header that is not in the file's encoding, UTF-16,
binary, no header, blank or repeated column names, not a workbook) raises FileUnreadable. A
single row that cannot be taken (a byte the file's encoding cannot decode, more cells than
the header has columns) is kept with its problem, so the rest of the file still goes through.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from charset_normalizer import from_bytes

from hub.connectors.mapping import Cell, cell_text
from hub.errors import HubError, Problem

UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# A well-formed UTF-8 sequence of two to four bytes: text in a legacy single-byte encoding
# (Windows-1252 and the like) practically never holds one.
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
PREFERRED_LEGACY = "cp1252"  # Windows' default in the UK: chosen whenever it fits the bytes
_CP1252_UNDEFINED = b"\x81\x8d\x8f\x90\x9d"


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


def detect_encoding(data: bytes) -> str | None:
    """The legacy encoding a file that is not UTF-8 was saved in (None: none fits).

    Windows-1252 first, when charset-normalizer finds the bytes plausible text in it (its
    five undefined bytes aside: their rows are reported): its unrestricted guess for short
    Latin text is often a Central European or DOS code page, which reads `£` as `Ł` or `ú`.
    Otherwise charset-normalizer's best guess."""
    probe = data.translate(None, _CP1252_UNDEFINED)
    if from_bytes(probe, cp_isolation=[PREFERRED_LEGACY]).best() is not None:
        return PREFERRED_LEGACY
    best = from_bytes(data).best()
    return None if best is None else best.encoding


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str
    mixed: bool  # some bytes did not decode: their rows are reported, not taken


def decode_csv_bytes(data: bytes, file_name: str) -> DecodedText:
    """The file's text and encoding; undecodable bytes are kept as surrogates (see _row)."""
    try:
        return DecodedText(data.decode("utf-8"), "utf-8", False)
    except UnicodeDecodeError as exc:
        first_line_end = data.find(b"\n")
        header_bad = first_line_end == -1 or exc.start < first_line_end
        if _UTF8_MULTIBYTE.search(data):
            # UTF-8 with a few rows in another encoding: those rows are reported
            if header_bad:
                raise FileUnreadable(_not_utf8_message(file_name, data, exc)) from exc
            return DecodedText(data.decode("utf-8", "surrogateescape"), "utf-8", True)
    encoding = detect_encoding(data)
    if encoding is None:
        raise FileUnreadable(
            f"{file_name}: the file's encoding is not recognised (not UTF-8, not Windows-1252);"
            " save the file as 'CSV UTF-8' and drop it again"
        )
    try:
        return DecodedText(data.decode(encoding), encoding, False)
    except UnicodeDecodeError:
        return DecodedText(data.decode(encoding, "surrogateescape"), encoding, True)


def read_csv(data: bytes, file_name: str) -> ParsedTable:
    if data.startswith(_UTF16_BOMS):
        raise FileUnreadable(
            f"{file_name}: the file is UTF-16 (a 'Unicode text' export); save it as 'CSV UTF-8'"
        )
    if b"\x00" in data[:4096]:
        raise FileUnreadable(f"{file_name}: the file holds binary data, not CSV text")
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    decoded = decode_csv_bytes(data, file_name)
    text = decoded.text
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
    if decoded.mixed and _has_undecodable(header_row):
        raise FileUnreadable(
            f"{file_name}: line 1 (the header) holds a byte that is not {_name(decoded.encoding)};"
            " save the file as 'CSV UTF-8' and drop it again"
        )
    headers = _check_headers(header_row, file_name)
    width = len(headers)
    rows: list[TableRow] = []
    number = 1
    encoding = decoded.encoding if decoded.mixed else None
    try:
        for raw in reader:
            number += 1
            rows.append(_row(number, raw, headers, width, encoding))
    except csv.Error as exc:
        raise FileUnreadable(f"{file_name}: row {number} is not valid CSV ({exc})") from exc
    return ParsedTable(headers, rows)


def _name(encoding: str) -> str:
    return {"utf-8": "UTF-8", "utf_8": "UTF-8", "cp1252": "Windows-1252"}.get(encoding, encoding)


def _has_undecodable(cells: list[str]) -> bool:
    return any(any("\udc80" <= ch <= "\udcff" for ch in cell) for cell in cells)


def _undecodable_problem(number: int, raw: list[str], headers: list[str], encoding: str) -> Problem:
    index = next(i for i, cell in enumerate(raw) if _has_undecodable([cell]))
    column = headers[index] if index < len(headers) else f"{index + 1} (beyond the header)"
    byte = next(ord(ch) - 0xDC00 for ch in raw[index] if "\udc80" <= ch <= "\udcff")
    return Problem(
        f"row {number}, column {column}",
        "encoding",
        f"byte 0x{byte:02x} is not {_name(encoding)} (the row was saved in another encoding,"
        " e.g. Windows-1252); save the file as 'CSV UTF-8'",
    )


def _row(
    number: int, raw: list[str], headers: list[str], width: int, encoding: str | None
) -> TableRow:
    """`encoding`: the file's, when some of its bytes did not decode (None: all did)."""
    problem = None
    if encoding is not None and _has_undecodable(raw):
        problem = _undecodable_problem(number, raw, headers, encoding)
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
