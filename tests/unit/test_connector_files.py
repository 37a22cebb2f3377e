"""File drop, the pure parts: reading CSV/XLSX, mapping rows to events, stable ids, results file."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook

from hub.config.model import HubConfig
from hub.connectors.config import FileDropDef, load_connectors
from hub.connectors.ids import file_row_event_id, file_sha256, sql_change_event_id
from hub.connectors.mapping import RowMapping, cell_text
from hub.connectors.rows import ImportTarget, Outcome, RowDecider, results_csv
from hub.connectors.tabular import FileUnreadable, read_table
from hub.events.rules import RuleContext
from hub.events.schemas import SchemaRegistry
from tests.connector_samples import (
    BAD_UPRN_ROW,
    DUPLICATE_ROW,
    ENCODING_ROW,
    EXTRA_CELLS_ROW,
    MISSING_DATE_ROW,
    issue_csv,
)

from .samples import CONFIG_DIR

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def target(registry: SchemaRegistry, config: HubConfig) -> ImportTarget:
    (d,) = [
        c for c in load_connectors(CONFIG_DIR, config, registry) if c.name == "council-tax-moves"
    ]
    assert isinstance(d, FileDropDef)
    return ImportTarget(d.source, d.event_type, d.row_mapping(), d.name)


def decide_all(data: bytes, target: ImportTarget, registry: SchemaRegistry) -> list:  # type: ignore[type-arg]
    table = read_table(data, "moves.csv")
    decider = RowDecider(target, file_sha256(data), registry, RuleContext(NOW))
    return [decider.decide(row) for row in table.rows]


def test_the_issue_csv_row_by_row(target: ImportTarget, registry: SchemaRegistry) -> None:
    results = decide_all(issue_csv(), target, registry)
    by_row = {r.row: r for r in results}
    assert [r.row for r in results] == list(range(2, 10))
    assert {r.row for r in results if r.outcome is Outcome.PUBLISHED} == {2, 3, 9}
    assert [p.location for p in by_row[BAD_UPRN_ROW].problems] == ["data.new_address.uprn"]
    assert [p.location for p in by_row[MISSING_DATE_ROW].problems] == ["data.effective_date"]
    assert by_row[MISSING_DATE_ROW].problems[0].rule == "missing"
    assert by_row[ENCODING_ROW].problems[0].rule == "encoding"
    assert by_row[EXTRA_CELLS_ROW].problems[0].rule == "extra_cells"
    duplicate = by_row[DUPLICATE_ROW]
    assert duplicate.outcome is Outcome.DUPLICATE
    assert duplicate.event_id == by_row[2].event_id
    assert "same as row 2" in duplicate.errors


def test_a_row_maps_to_the_event_the_mapping_describes(
    target: ImportTarget, registry: SchemaRegistry
) -> None:
    first = decide_all(issue_csv(), target, registry)[0]
    assert first.event is not None
    assert first.event.envelope.subject == "P-1"
    assert first.event.envelope.source == "council-tax"
    assert first.event.data["new_address"] == {
        "uprn": "100023412345",
        "lines": ["7 Orchard Close"],  # empty list cells are left out
        "postcode": "EX4 7QT",
    }
    assert first.event.data["previous_address"]["lines"] == ["Flat 2", "14 Mill Lane"]
    assert first.event.data["effective_date"].isoformat() == "2026-11-20"
    assert first.event.data["move_type"] == "within_area"  # a constant of the connector


def test_event_ids_are_stable_per_file_content_and_row(
    target: ImportTarget, registry: SchemaRegistry
) -> None:
    once = [r.event_id for r in decide_all(issue_csv(), target, registry)]
    again = [r.event_id for r in decide_all(issue_csv(), target, registry)]
    assert once == again
    changed = issue_csv() + b"P-4,1,a,,,EX1 2AB,2,b,,,EX1 2AB,2026-11-20,\r\n"
    other = [r.event_id for r in decide_all(changed, target, registry)]
    assert other[0] != once[0]  # another file: other ids
    sha = file_sha256(issue_csv())
    assert once[0] == file_row_event_id(sha, "council-tax", "address.changed", 2)
    assert file_row_event_id(sha, "council-tax", "address.changed", 3) != once[0]
    assert sql_change_event_id("c", 1) == sql_change_event_id("c", 1) != sql_change_event_id("c", 2)


def test_results_file_lists_every_row(target: ImportTarget, registry: SchemaRegistry) -> None:
    results = decide_all(issue_csv(), target, registry)
    rows = list(csv.DictReader(io.StringIO(results_csv(results))))
    assert [r["row"] for r in rows] == [str(n) for n in range(2, 10)]
    assert rows[0]["outcome"] == "published" and rows[0]["event_id"] and not rows[0]["errors"]
    bad = rows[BAD_UPRN_ROW - 2]
    assert bad["outcome"] == "rejected" and bad["event_id"] == ""
    assert "data.new_address.uprn" in bad["errors"] and "string_pattern_mismatch" in bad["errors"]
    assert rows[DUPLICATE_ROW - 2]["outcome"] == "duplicate"


def test_utf8_bom_and_semicolons_are_read() -> None:
    table = read_table("\ufeffa;b\n1;2\n".encode(), "x.csv")
    assert table.headers == ["a", "b"]
    assert table.rows[0].cells == {"a": "1", "b": "2"}


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("a,b\n1,2\n".encode("utf-16"), "UTF-16"),
        # a UTF-8 file (the `£` of row 2) whose header was saved in another encoding
        ("caf\u00e9,b\n".encode("cp1252") + "\u00a3,2\n".encode(), "line 1 is not UTF-8"),
        (b"", "empty"),
        (b"PK\x03\x04\x00\x00binary", "binary"),
        (b"a,,b\n1,2,3\n", "column 2 of the header row has no name"),
        (b"a,a\n1,2\n", "appears twice"),
    ],
)
def test_unreadable_files_say_why(data: bytes, says: str) -> None:
    with pytest.raises(FileUnreadable, match=says):
        read_table(data, "x.csv")


def test_other_file_types_are_refused() -> None:
    with pytest.raises(FileUnreadable, match=r"only \.csv and \.xlsx"):
        read_table(b"{}", "x.json")
    with pytest.raises(FileUnreadable, match="not an Excel workbook"):
        read_table(b"not a zip", "x.xlsx")


def test_xlsx_cells_become_text(target: ImportTarget, registry: SchemaRegistry) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(
        [
            "person_id",
            "old_uprn",
            "old_line1",
            "old_postcode",
            "new_uprn",
            "new_line1",
            "new_postcode",
            "moved_on",
        ]
    )
    ws.append(
        [
            "P-9",
            100023336956,
            "1 A Street",
            "EX1 2AB",
            100023412345,
            "2 B Road",
            "EX4 7QT",
            datetime(2026, 11, 20),
        ]
    )
    out = io.BytesIO()
    wb.save(out)
    table = read_table(out.getvalue(), "moves.xlsx")
    assert table.rows[0].cells["old_uprn"] == "100023336956"
    assert table.rows[0].cells["moved_on"] == "2026-11-20"
    mapping = RowMapping.from_config(
        "address.changed",
        {
            "subject": "person_id",
            "previous_address.uprn": "old_uprn",
            "previous_address.lines": ["old_line1"],
            "previous_address.postcode": "old_postcode",
            "new_address.uprn": "new_uprn",
            "new_address.lines": ["new_line1"],
            "new_address.postcode": "new_postcode",
            "effective_date": "moved_on",
        },
    )
    decider = RowDecider(
        ImportTarget("council-tax", "address.changed", mapping), "x", registry, RuleContext(NOW)
    )
    assert decider.decide(table.rows[0]).outcome is Outcome.PUBLISHED


def test_columns_named_after_fields_need_no_mapping() -> None:
    mapping = RowMapping.from_headers(
        "address.changed",
        ["subject", "new_address.lines.2", "new_address.lines.1", "effective_date"],
    )
    raw = mapping.to_submission(
        {
            "subject": "P-1",
            "new_address.lines.1": "a",
            "new_address.lines.2": "b",
            "effective_date": None,
        },
        "id-1",
    )
    assert raw == {
        "type": "address.changed",
        "id": "id-1",
        "subject": "P-1",
        "data": {"new_address": {"lines": ["a", "b"]}},
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("  ", None),
        (" x ", "x"),
        (12.0, "12"),
        (1.5, "1.5"),
        (True, "true"),
        (datetime(2026, 1, 2), "2026-01-02"),
    ],
)
def test_cell_text(value: object, text: str | None) -> None:
    assert cell_text(value) == text
