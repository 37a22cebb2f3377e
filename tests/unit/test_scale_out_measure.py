"""How `hub bench flow --workers 1,2` judges scale-out: the median of alternated rounds' ratios.

One pair (one worker, then two, minutes apart) took the machine's drift between those minutes
for the hub's scale-out: nine single pairs on an idle machine ranged 1.34x to 2.09x.
"""

from __future__ import annotations

import io

from rich.console import Console

from bench.flow import _workers_table, drain_rate, scale_out, scale_out_ratios


def test_each_round_is_its_own_pair() -> None:
    rounds = [{1: 1000.0, 2: 1500.0}, {1: 800.0, 2: 1600.0}, {1: 1200.0, 2: 1800.0}]

    assert scale_out_ratios(rounds) == [1.5, 2.0, 1.5]


def test_judged_on_the_median_of_the_rounds_not_on_pooled_rates() -> None:
    # A slow minute for the first one-worker run: pooled means would give 4400 / 2700 = 1.63x,
    # the rounds' own ratios are 1.4, 2.0 (the drift) and 1.45: median 1.45x.
    rounds = [{1: 1000.0, 2: 1400.0}, {1: 600.0, 2: 1200.0}, {1: 1100.0, 2: 1595.0}]

    assert scale_out(rounds) == 1.45


def test_an_even_number_of_rounds_takes_the_middle_two() -> None:
    assert scale_out([{1: 100.0, 2: 150.0}, {1: 100.0, 2: 170.0}]) == 1.6


def test_no_complete_round_is_no_figure() -> None:
    assert scale_out([]) == 0.0
    assert scale_out([{1: 0.0, 2: 900.0}]) == 0.0
    assert scale_out([{2: 900.0}]) == 0.0


def test_other_counts_against_one_worker() -> None:
    rounds = [{1: 1000.0, 2: 1600.0, 3: 2100.0}]

    assert scale_out(rounds, workers=3) == 2.1


def test_the_table_shows_every_round_and_the_median() -> None:
    rounds = [{1: 1000.0, 2: 1400.0}, {1: 600.0, 2: 1200.0}, {1: 1100.0, 2: 1595.0}]
    out = io.StringIO()

    Console(file=out, width=160, color_system=None).print(
        _workers_table("scale-out", rounds, [1, 2])
    )

    printed = out.getvalue()
    for cell in ("1,000", "1,400", "1.40", "600", "2.00", "1,595", "1.45", "median", "1,000"):
        assert cell in printed


def test_the_drain_counts_only_what_was_left_when_publishing_ended() -> None:
    # 5,000 events at K=5; 5,000 of the 25,000 audit rows were in when the last was acked:
    # 4,000 events left, drained in 2 s.
    assert drain_rate(5000, 5, 5000, 2.0) == 2000.0
    assert drain_rate(5000, 5, 0, 0.0) == 0.0
