"""`hub bench idle` reads each process's CPU from /proc and states it as a share of one core."""

from __future__ import annotations

import os

from bench.idle import IdleRun, core_shares

TICKS = os.sysconf("SC_CLK_TCK")


def test_a_share_is_the_ticks_used_over_the_window_and_a_part_gone_is_left_out() -> None:
    before = {"embedded broker": 100, "worker": 50, "api": 10}
    after = {"embedded broker": 100 + TICKS * 2, "worker": 50 + TICKS}  # the api died meanwhile
    shares = core_shares(before, after, seconds=10.0)
    assert shares == {"embedded broker": 0.2, "worker": 0.1}
    assert abs(IdleRun("x", shares).total - 0.3) < 1e-9
