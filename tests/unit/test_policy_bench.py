"""The policy benchmark's synthetic council is what it says, and the benchmark reports figures."""

from __future__ import annotations

import io

from rich.console import Console

from bench.policy import RELEVANT, run_policy_bench, synthetic_config
from hub.routing.table import RoutingTable


def test_the_synthetic_council_keeps_the_benchmarked_flows_fixed_as_agreements_grow() -> None:
    for n in (5, 50, 500):
        config = synthetic_config(n)
        assert len(config.agreements) == n
        assert len(config.recipients) == 30
        table = RoutingTable.build(config)
        covering = sum(
            len(table.agreements_for("council-tax", r.id, "address.changed"))
            for r in config.recipients
        )
        assert covering == RELEVANT  # the same work per event, whatever the register's size


def test_policy_bench_runs_and_prints_each_size() -> None:
    out = io.StringIO()
    runs = run_policy_bench(20, Console(file=out, width=160, color_system=None))
    assert [r.agreements for r in runs] == [5, 50, 500]
    assert all(r.decisions == 20 * 30 and r.decisions_per_s > 0 for r in runs)
    printed = out.getvalue()
    assert "decisions/s" in printed and "100,000" in printed
