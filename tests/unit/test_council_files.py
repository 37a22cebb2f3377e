"""Councils' files as they are: UK dates (`20/11/2026`), a date format per mapping, and CSVs
saved in Windows-1252 (Excel's "CSV" on a UK machine) rather than UTF-8."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hub.config.model import HubConfig
from hub.connectors.config import FileDropDef, load_connectors
from hub.connectors.dates import BadDateFormat, DateNotUnderstood, check_date_format, parse_date
from hub.connectors.ids import file_sha256
from hub.connectors.mapping import RowMapping
from hub.connectors.rows import ImportTarget, Outcome, RowDecider, RowResult
from hub.connectors.tabular import FileUnreadable, detect_encoding, read_table
from hub.errors import ConfigError
from hub.events.rules import RuleContext
from hub.events.schemas import SchemaRegistry
from tests.connector_samples import HEADER, move_line

from .samples import CONFIG_DIR

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "date_format", "expected"),
    [
        ("20/11/2026", None, date(2026, 11, 20)),  # UK order by default
        ("3/4/2026", None, date(2026, 4, 3)),  # 3 April, as a UK council writes it
        ("2026-11-20", None, date(2026, 11, 20)),  # ISO stays accepted
        (" 20/11/2026 ", None, date(2026, 11, 20)),
        ("20.11.2026", "%d.%m.%Y", date(2026, 11, 20)),
        ("11/20/2026", "%m/%d/%Y", date(2026, 11, 20)),  # a file in month/day order says so
        ("2026-11-20", "%d.%m.%Y", date(2026, 11, 20)),  # ISO whatever the format
        ("20 Nov 2026", "%d %b %Y", date(2026, 11, 20)),
    ],
)
def test_dates_in_the_forms_councils_write(
    text: str, date_format: str | None, expected: date
) -> None:
    assert parse_date(text, date_format) == expected


@pytest.mark.parametrize(
    ("text", "date_format", "expected_form"),
    [
        ("20/11/26", None, "dd/mm/yyyy or yyyy-mm-dd"),  # which century: a guess
        ("2026/11/20", None, "dd/mm/yyyy or yyyy-mm-dd"),
        ("11/20/2026", None, "dd/mm/yyyy or yyyy-mm-dd"),  # US order: no month 20
        ("31/02/2026", None, "dd/mm/yyyy or yyyy-mm-dd"),
        ("2026-02-31", None, "dd/mm/yyyy or yyyy-mm-dd"),
        ("soon", None, "dd/mm/yyyy or yyyy-mm-dd"),
        ("20/11/2026", "%d.%m.%Y", "dd.mm.yyyy or yyyy-mm-dd"),
    ],
)
def test_a_value_in_no_accepted_form_names_the_expected_form(
    text: str, date_format: str | None, expected_form: str
) -> None:
    with pytest.raises(DateNotUnderstood) as info:
        parse_date(text, date_format)
    assert info.value.expected == expected_form


def test_a_date_format_must_read_back_day_month_and_year() -> None:
    assert check_date_format("%d/%m/%Y") == "%d/%m/%Y"
    for bad in ("%d/%m", "%Y", "%d/%q/%Y"):
        with pytest.raises(BadDateFormat):
            check_date_format(bad)


def test_a_bad_date_format_in_connectors_yaml_is_a_config_problem(
    tmp_path: Path, config: HubConfig, registry: SchemaRegistry
) -> None:
    (tmp_path / "connectors.yaml").write_text(
        "connectors:\n"
        "  - name: ctax-drop\n"
        "    kind: file_drop\n"
        "    source: council-tax\n"
        "    event_type: address.changed\n"
        "    folder: drop/ctax\n"
        "    mapping: {subject: person_id, effective_date: moved_on}\n"
        '    date_format: "%d/%m"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_connectors(tmp_path, config, registry)
    assert any("date_format" in str(p) for p in info.value.problems), info.value.problems


def council_target(
    registry: SchemaRegistry, config: HubConfig, date_format: str | None
) -> ImportTarget:
    (d,) = [
        c for c in load_connectors(CONFIG_DIR, config, registry) if c.name == "council-tax-moves"
    ]
    assert isinstance(d, FileDropDef)
    d = d.model_copy(update={"date_format": date_format})
    return ImportTarget(d.source, d.event_type, d.row_mapping(), d.name)


def decide(
    data: bytes, target: ImportTarget, registry: SchemaRegistry, name: str = "council.csv"
) -> list[RowResult]:
    table = read_table(data, name)
    decider = RowDecider(target, file_sha256(data), registry, RuleContext(NOW), name)
    return [decider.decide(row) for row in table.rows]


def windows_1252_file(*lines: str) -> bytes:
    return "\r\n".join([HEADER, *lines, ""]).encode("cp1252")


def test_a_windows_1252_file_with_uk_dates_and_a_pound_sign_is_taken(
    registry: SchemaRegistry, config: HubConfig
) -> None:
    data = windows_1252_file(
        move_line("P-10", moved_on="20/11/2026", note="paid \u00a325 \u2013 \u2018fine\u2019"),
        move_line("P-11", moved_on="2026-11-18", note="caf\u00e9"),
        move_line("P-12", moved_on="20/11/26"),
    )
    table = read_table(data, "council.csv")
    assert table.rows[0].cells["officer_notes"] == "paid \u00a325 \u2013 \u2018fine\u2019"
    results = decide(data, council_target(registry, config, None), registry)
    assert [r.outcome for r in results] == [Outcome.PUBLISHED, Outcome.PUBLISHED, Outcome.REJECTED]
    first = results[0].event
    assert first is not None and first.data["effective_date"] == date(2026, 11, 20)
    (problem,) = results[2].problems
    assert problem.location == "council.csv row 4, column moved_on"
    assert problem.rule == "date_format"
    assert "dd/mm/yyyy or yyyy-mm-dd" in problem.message


def test_a_mapping_date_format_is_used_and_other_problems_still_listed(
    registry: SchemaRegistry, config: HubConfig
) -> None:
    data = windows_1252_file(
        move_line("P-20", moved_on="20.11.2026"),
        move_line("P-21", moved_on="20/11/2026", uprn="12345678901234"),
    )
    ok, bad = decide(data, council_target(registry, config, "%d.%m.%Y"), registry)
    assert ok.outcome is Outcome.PUBLISHED and ok.event is not None
    assert ok.event.data["effective_date"] == date(2026, 11, 20)
    assert bad.outcome is Outcome.REJECTED
    assert [p.location for p in bad.problems] == [
        "council.csv row 3, column moved_on",
        "data.new_address.uprn",
    ]
    assert "dd.mm.yyyy or yyyy-mm-dd" in bad.problems[0].message


def test_windows_1252_is_preferred_among_the_plausible_encodings() -> None:
    # charset-normalizer alone guesses a Central European code page here, reading é as é but
    # a pound sign as Ł
    assert (
        detect_encoding("person_id,name\nP-1,Jos\u00e9 M\u00fcller\n".encode("cp1252")) == "cp1252"
    )


def test_an_undecodable_byte_is_reported_with_its_row_and_column(
    registry: SchemaRegistry, config: HubConfig
) -> None:
    # 0x81 is not a Windows-1252 character: only its row is kept out
    data = windows_1252_file(move_line("P-30", note="\u00a35"), move_line("P-31")).replace(
        b"P-31,100023336956,Flat 2", b"P-31,100023336956,Flat \x81"
    )
    rows = read_table(data, "council.csv").rows
    assert rows[0].problem is None
    assert rows[1].problem is not None
    assert rows[1].problem.location == "row 3, column old_line1"
    assert "byte 0x81 is not Windows-1252" in rows[1].problem.message


def test_a_row_in_another_encoding_within_a_utf8_file_names_its_column() -> None:
    data = (HEADER + "\n" + move_line("P-40", note="\u00a35") + "\n").encode() + (
        move_line("P-41", note="caf\u00e9") + "\n"
    ).encode("cp1252")
    rows = read_table(data, "council.csv").rows
    assert rows[0].problem is None and rows[0].cells["officer_notes"] == "\u00a35"
    assert rows[1].problem is not None
    assert rows[1].problem.location == "row 3, column officer_notes"
    assert "byte 0xe9 is not UTF-8" in rows[1].problem.message


def test_bytes_no_encoding_explains_are_refused_whole() -> None:
    with pytest.raises(FileUnreadable, match="encoding is not recognised"):
        read_table(bytes(range(0x80, 0x100)) * 4 + b"\n", "council.csv")


def test_a_mapping_rewrites_only_the_date_fields_it_maps(registry: SchemaRegistry) -> None:
    """The SQL connector reads text dates through the same step (its rows are cells too)."""
    mapping = RowMapping.from_config(
        "address.changed",
        {"subject": "person", "effective_date": "moved_on", "new_address.lines": ["l1", "l2"]},
    )
    dates = registry.latest("address.changed").date_paths()
    assert dates == {"effective_date"}
    cells = {"person": "P-1", "moved_on": "20/11/2026", "l1": "3/4/2026", "l2": None}
    read, bad = mapping.read_dates(cells, dates)
    assert read == {**cells, "moved_on": "2026-11-20"} and bad == []
    _, bad = mapping.read_dates({**cells, "moved_on": "20/11/26"}, dates)
    assert bad == [("moved_on", "dd/mm/yyyy or yyyy-mm-dd")]
    assert registry.latest("death.notified").date_paths() == {"date_of_death"}
