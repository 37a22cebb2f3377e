"""The chain's pure rules: canonical form, linking, and how check_rows names a break."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hub.api.chart import day_chart
from hub.audit.chain import GENESIS, canonical, canonical_time, link, sign, signature_ok
from hub.audit.queries import DayCount
from hub.audit.verify import check_rows


def test_canonical_form_is_compact_ordered_utf8_json() -> None:
    assert canonical(["a", None, 3, 1.5, 'é "q"']) == '["a",null,3,1.5,"é \\"q\\""]'


def test_times_are_utc_with_microseconds() -> None:
    cet = timezone(timedelta(hours=1))
    assert (
        canonical_time(datetime(2026, 11, 24, 10, 0, tzinfo=cet)) == "2026-11-24T09:00:00.000000Z"
    )
    assert canonical_time(datetime(2026, 11, 24, 9, 0, 0, 5)) == "2026-11-24T09:00:00.000005Z"


def chain(forms: list[str]) -> list[tuple[int, str, str, str]]:
    rows, prev = [], GENESIS
    for seq, form in enumerate(forms, start=1):
        h = link(prev, form)
        rows.append((seq, form, prev, h))
        prev = h
    return rows


def test_check_rows_accepts_a_good_chain_and_names_each_kind_of_break() -> None:
    rows = chain([f'["row {i}"]' for i in range(1, 6)])
    n, last, head, brk = check_rows(rows, 0, GENESIS)
    assert (n, last, head, brk) == (5, 5, rows[-1][3], None)

    edited = [*rows[:2], (3, '["forged"]', rows[2][2], rows[2][3]), *rows[3:]]
    assert check_rows(edited, 0, GENESIS)[3].seq == 3  # type: ignore[union-attr]

    deleted = [*rows[:2], *rows[3:]]
    brk = check_rows(deleted, 0, GENESIS)[3]
    assert brk is not None and brk.seq == 4 and "3..3 are missing" in brk.problem

    swapped = [rows[0], (2, *rows[2][1:]), (3, *rows[1][1:]), *rows[3:]]
    brk = check_rows(swapped, 0, GENESIS)[3]
    assert brk is not None and brk.seq == 2 and "does not follow row 1" in brk.problem


def test_checkpoint_signatures_need_the_key() -> None:
    sig = sign("key", "statement")
    assert signature_ok("key", "statement", sig)
    assert not signature_ok("other", "statement", sig)
    assert not signature_ok("key", "statement!", sig)


def test_day_chart_stacks_recipients_per_day() -> None:
    today = date(2026, 11, 24)
    counts = [
        DayCount(day=today, recipient="waste", count=4),
        DayCount(day=today, recipient="parking", count=2),
        DayCount(day=today - timedelta(days=1), recipient="waste", count=3),
    ]
    chart = day_chart(counts, today, days=7)
    assert chart.max_count == 6 and len(chart.bars) == 3 and len(chart.days) == 7
    assert [name for name, _ in chart.legend] == ["parking", "waste"]
    assert "9 transfers delivered over the last 7 days to 2 services" in chart.summary
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.label == "2026-11-24: waste 4"


def test_day_chart_with_nothing_to_show() -> None:
    chart = day_chart([], datetime(2026, 11, 24, tzinfo=UTC).date())
    assert chart.bars == () and chart.max_count == 0
