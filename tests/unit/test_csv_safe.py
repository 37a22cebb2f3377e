"""CSV cells a spreadsheet would run as formulas are escaped the OWASP way (issue 13)."""

from __future__ import annotations

import csv
import io

import pytest

from hub.csv_safe import safe_cell, safe_csv

ATTACK = "=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        (ATTACK, "'" + ATTACK),
        ("+44 1392 000000 x", "'+44 1392 000000 x"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+9)*cmd|' /C calc'!A0", "'@SUM(1+9)*cmd|' /C calc'!A0"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("W-1", "W-1"),
        ("-5", "-5"),
        ("+12.5", "+12.5"),
        ("", ""),
    ],
)
def test_formula_leading_cells_are_prefixed_with_a_quote(cell: str, shown: str) -> None:
    assert safe_cell(cell) == shown


def test_numbers_and_empty_cells_stay_as_they_are() -> None:
    assert safe_cell(-3) == -3 and safe_cell(None) is None


def test_the_csv_reads_back_as_text_cells() -> None:
    text = safe_csv(("local_id", "n"), [(ATTACK, 1), ("W-1,x", 2)])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["local_id", "n"], ["'" + ATTACK, "1"], ["W-1,x", "2"]]
