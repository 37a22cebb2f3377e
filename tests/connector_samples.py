"""Sample input for the connector tests: the issue's CSV (good rows, bad UPRN, missing date,
a row in the wrong encoding, a row with extra cells, a duplicate row) as bytes."""

from __future__ import annotations

HEADER = (
    "person_id,old_uprn,old_line1,old_line2,old_line3,old_postcode,"
    "new_uprn,new_line1,new_line2,new_line3,new_postcode,moved_on,officer_notes"
)


def move_line(
    person: str, uprn: str = "100023412345", moved_on: str = "2026-11-20", note: str = "note"
) -> str:
    return f"{person},100023336956,Flat 2,14 Mill Lane,,EX1 2AB,{uprn},7 Orchard Close,,,ex4 7qt,{moved_on},{note}"


GOOD_PEOPLE = ("P-1", "P-2", "P-3")
BAD_UPRN_ROW, MISSING_DATE_ROW, ENCODING_ROW, EXTRA_CELLS_ROW, DUPLICATE_ROW = 4, 5, 6, 7, 8


def issue_csv() -> bytes:
    """Rows 2, 3 and 9 are good; 4 bad UPRN; 5 no date; 6 Windows-1252 in a UTF-8 file (row 3
    has a `£` in UTF-8); 7 extra cells; 8 = row 2."""
    lines = [
        HEADER.encode(),
        move_line("P-1").encode(),
        move_line("P-2", note="paid \u00a325").encode(),
        move_line("P-bad-uprn", uprn="12345678901234").encode(),
        move_line("P-no-date", moved_on="").encode(),
        move_line("P-caf\u00e9").encode("cp1252"),
        (move_line("P-extra") + ",surplus,cells").encode(),
        move_line("P-1").encode(),
        move_line("P-3").encode(),
    ]
    return b"\r\n".join(lines) + b"\r\n"


def many_rows_csv(n: int, moved_on: str = "2026-11-20") -> bytes:
    lines = [HEADER] + [
        move_line(f"P-{i}", uprn=str(100_000_000 + i), moved_on=moved_on) for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()
