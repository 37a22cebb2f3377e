"""`hub bench idle`: the CPU an idle hub uses, its agents resting, beside never resting.

Two fresh stacks in turn, as `hub up` starts them (the embedded broker, the worker, the API, the
connectors), each left alone for the same window once ready: the baseline with
HUB_CONSUMER_REST_AFTER_S=0 (every agent fetches back to back, each fetch waiting
HUB_CONSUMER_FETCH_WAIT_MS), then as configured (an agent with nothing to consume rests). The
CPU each process used over the window comes from /proc (user + system time), as a share of one
core. Nothing is published: this is the cost of standing by.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hub.settings import HubSettings
from runtime.stack import Stack

SETTLE_S = 5.0  # after ready: the agents' first joins and fetches are done, the first rests begin
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> int | None:
    """User + system clock ticks a process has used (None: it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))


def core_shares(
    before: Mapping[str, int], after: Mapping[str, int], seconds: float
) -> dict[str, float]:
    """Each part's CPU over `seconds` as a share of one core (parts gone meanwhile left out)."""
    return {
        part: (after[part] - before[part]) / _TICKS_PER_S / seconds
        for part in before
        if part in after
    }


@dataclass(frozen=True)
class IdleRun:
    label: str
    shares: dict[str, float]  # part -> share of one core

    @property
    def total(self) -> float:
        return sum(self.shares.values())


def _parts(stack: Stack) -> dict[str, int]:
    """The stack's processes by name: the broker, then each child (worker, api, connectors)."""
    pids = {"embedded broker": stack.broker.pid if stack.broker else None}
    pids |= {child.name: child.proc.pid for child in stack.children}
    return {name: pid for name, pid in pids.items() if pid is not None}


def _ticks(parts: Mapping[str, int]) -> dict[str, int]:
    read = {name: cpu_ticks(pid) for name, pid in parts.items()}
    return {name: t for name, t in read.items() if t is not None}


def measure_idle(settings: HubSettings, label: str, seconds: float) -> IdleRun:
    with tempfile.TemporaryDirectory(prefix="hub-bench-idle-") as tmp:
        run = settings.model_copy(
            update={"data_dir": Path(tmp) / "data", "api_port": 0, "log_level": "WARNING"}
        )
        with Stack(run) as stack:
            time.sleep(SETTLE_S)
            parts = _parts(stack)
            before = _ticks(parts)
            time.sleep(seconds)
            return IdleRun(label, core_shares(before, _ticks(parts), seconds))


def run_idle_bench(settings: HubSettings, seconds: float, console: Console) -> list[IdleRun]:
    console.print(
        f"Two fresh stacks in turn, each idle for {seconds:.0f}s once ready "
        f"(HUB_CONSUMER_FETCH_WAIT_MS={settings.consumer_fetch_wait_ms})..."
    )
    never = measure_idle(
        settings.model_copy(update={"consumer_rest_after_s": 0.0}),
        "never resting (HUB_CONSUMER_REST_AFTER_S=0)",
        seconds,
    )
    resting = measure_idle(
        settings,
        f"resting after {settings.consumer_rest_after_s:g}s, "
        f"a look every {settings.consumer_rest_ms} ms",
        seconds,
    )
    runs = [never, resting]
    table = Table(title="An idle hub: CPU as a share of one core")
    parts = list(never.shares)
    table.add_column("agents")
    for part in parts:
        table.add_column(part, justify="right")
    table.add_column("total", justify="right")
    for r in runs:
        table.add_row(r.label, *(f"{r.shares.get(p, 0.0):.1%}" for p in parts), f"{r.total:.1%}")
    console.print(table)
    ratio = resting.total / never.total if never.total else float("nan")
    console.print(
        f"Idle CPU resting / never resting: {ratio:.2f} "
        f"({resting.total:.1%} against {never.total:.1%} of a core, measured in this run)"
    )
    return runs
