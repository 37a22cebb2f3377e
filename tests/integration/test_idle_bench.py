"""`hub bench idle` reads a process's CPU time from /proc/<pid>/stat (utime + stime)."""

from __future__ import annotations

import os

from bench.idle import cpu_ticks


def test_this_process_has_used_some_cpu_and_a_process_that_is_gone_has_none() -> None:
    sum(i * i for i in range(200_000))  # some user time
    ticks = cpu_ticks(os.getpid())
    assert ticks is not None and ticks > 0
    assert cpu_ticks(2**22 + 12345) is None  # above the largest pid Linux hands out
