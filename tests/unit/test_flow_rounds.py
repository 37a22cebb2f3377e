"""How `hub bench flow` judges hub / raw: the median of rounds measured in turn on one stack.

One hub run and one raw run, seconds to minutes apart, took the machine's drift for the hub's
ratio: at K=5 the raw fan-out alone measured 5,389 to 10,407 events/s in one night's runs.
"""

from __future__ import annotations

import io

from rich.console import Console

from bench.flow import (
    BenchResult,
    FlowRound,
    _rounds_table,
    median_of,
    round_ratios,
    target_lines,
)


def _result(*rounds: FlowRound, k: int = 5) -> BenchResult:
    return BenchResult(k, 5000, rounds, 90.0, 198.0, 1000, 190.0)


def test_the_ratio_is_the_median_of_each_rounds_own_ratio_not_a_ratio_of_medians() -> None:
    # a fast minute for the second raw run: its round's ratio is the odd one out
    result = _result(
        FlowRound(hub=1500.0, raw=6000.0, durable=4000.0),
        FlowRound(hub=1600.0, raw=10000.0, durable=4000.0),
        FlowRound(hub=1800.0, raw=7500.0, durable=4500.0),
    )

    assert round_ratios((r.hub, r.raw) for r in result.rounds) == [0.25, 0.16, 0.24]
    assert result.ratio == 0.24  # medians alone would give 1600 / 7500 = 0.213
    assert result.hub_events_s == 1600.0
    assert result.raw_events_s == 7500.0
    assert result.durable_ratio == 0.4
    assert result.durable_events_s == 4000.0


def test_one_round_is_that_rounds_ratio() -> None:
    result = _result(FlowRound(hub=2000.0, raw=8000.0, durable=5000.0))

    assert result.ratio == 0.25
    assert result.durable_ratio == 0.4


def test_a_baseline_not_measured_gives_no_ratio() -> None:
    result = _result(FlowRound(hub=2000.0, raw=8000.0), FlowRound(hub=2100.0, raw=8400.0))

    assert result.durable_events_s == 0.0
    assert result.durable_ratio == 0.0
    assert median_of([]) == 0.0
    assert median_of(round_ratios([(900.0, 0.0)])) == 0.0


def test_the_verdict_says_it_is_a_median_and_lists_every_round() -> None:
    result = _result(
        FlowRound(hub=1500.0, raw=6000.0, durable=4000.0),
        FlowRound(hub=1600.0, raw=10000.0, durable=4000.0),
        FlowRound(hub=1800.0, raw=7500.0, durable=4500.0),
    )

    lines = target_lines([result])

    assert lines[0] == (
        "[red]FAIL[/red] K=5: hub 1,600 events/s = 0.24 of raw fan-out 7,500/s, the median of "
        "3 alternated rounds (0.25, 0.16, 0.24) (target >= 0.25)"
    )
    assert (
        "0.40 of raw durable 4,000/s, the median of 3 alternated rounds (0.38, 0.40, 0.40)"
        in (lines[1])
    )
    assert lines[2].startswith("[green]PASS[/green] K=5: p99 accepted->audited 198 ms")


def test_a_single_round_verdict_reads_as_before() -> None:
    lines = target_lines([_result(FlowRound(hub=2000.0, raw=8000.0), k=1)])

    assert lines == [
        "[red]FAIL[/red] K=1: hub 2,000 events/s = 0.25 of raw fan-out 8,000/s (target >= 0.5)"
    ]


def test_the_rounds_table_shows_each_rounds_rates_and_ratios() -> None:
    result = _result(
        FlowRound(hub=1500.0, raw=6000.0, durable=4000.0),
        FlowRound(hub=1600.0, raw=10000.0),
    )
    out = io.StringIO()

    Console(file=out, width=160, color_system=None).print(_rounds_table([result], "1 worker"))

    rows = [line for line in out.getvalue().splitlines() if "│ 5 " in line]
    assert len(rows) == 2
    for cell in ("1,500", "6,000", "0.25", "4,000", "0.38"):
        assert cell in rows[0]
    for cell in ("1,600", "10,000", "0.16", "-"):
        assert cell in rows[1]
