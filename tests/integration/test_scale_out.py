"""A second worker joins a running one: both are ready, and every partition has one owner.

Issue 14: `hub bench flow --workers 1,2` waited for two ready workers and never saw them. The
audit topic has one partition, so with two workers one audit-writer legitimately holds none; the
worker reported itself as holding nothing (not ready) whenever one of its agents held nothing,
although it held half of every other topic.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.db.engine import make_engine
from hub.settings import HubSettings
from runtime.wiring import Wiring
from tests.integration.conftest import WorkerProcess

JOIN_DEADLINE_S = 60  # the second worker's start and the rebalance of four groups on Tansu

Partition = tuple[str, int]


def heartbeats(settings: HubSettings) -> dict[int, int]:
    """pid -> assigned_partitions, as each worker last reported it."""
    engine = make_engine(settings.effective_database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT pid, assigned_partitions, last_seen FROM worker_heartbeat")
        ).all()
    engine.dispose()
    return {int(pid): int(n) for pid, n, _ in rows}


def latest_assignments(log_file: Path) -> dict[str, set[Partition]]:
    """agent -> the partitions its consumer was last given (the worker logs each rebalance)."""
    latest: dict[str, set[Partition]] = {}
    for line in log_file.read_text().splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("event") == "partitions_assigned":
            latest[entry["agent"]] = {
                (topic, p) for topic, ps in entry["partitions"].items() for p in ps
            }
    return latest


def agent_topics(log_file: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in log_file.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == "agent_started":
                out[entry["agent"]] = entry["topics"]
    return out


def ownership_problems(
    expected: dict[str, set[Partition]], held: list[dict[str, set[Partition]]]
) -> list[str]:
    """What is wrong with the members' views: a partition of nobody's, or of two members."""
    problems = []
    for agent, partitions in expected.items():
        owners: dict[Partition, int] = defaultdict(int)
        for member in held:
            for tp in member.get(agent, set()):
                owners[tp] += 1
        unowned = partitions - set(owners)
        shared = {tp for tp, n in owners.items() if n > 1}
        if unowned:
            problems.append(f"{agent}: {len(unowned)} partitions held by nobody")
        if shared:
            problems.append(f"{agent}: {sorted(shared)} held by two members")
    return problems


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_a_second_worker_takes_over_half_and_both_are_ready(
    hub_settings: HubSettings, wiring: Wiring, tmp_path: Path
) -> None:
    partitions = {spec.name: spec.partitions for spec in wiring.topics()}
    first = WorkerProcess(hub_settings, tmp_path / "worker-0.log")
    second = WorkerProcess(hub_settings, tmp_path / "worker-1.log")
    first.start()
    try:
        topics = agent_topics(first.log_file)
        expected = {
            agent: {(t, p) for t in ts for p in range(partitions[t])}
            for agent, ts in topics.items()
        }
        total = sum(len(ps) for ps in expected.values())
        assert heartbeats(hub_settings) == {first.proc.pid: total}  # type: ignore[union-attr]
        second.start()  # returns at once: the first is ready; the groups rebalance from here
        deadline = time.monotonic() + JOIN_DEADLINE_S
        while True:
            for w in (first, second):
                assert w.proc is not None and w.proc.poll() is None, w.log_file.read_text()[-3000:]
            beats = heartbeats(hub_settings)
            held = [latest_assignments(w.log_file) for w in (first, second)]
            problems = ownership_problems(expected, held)
            counts = [beats.get(w.proc.pid, 0) for w in (first, second)]  # type: ignore[union-attr]
            if not problems and all(counts) and sum(counts) == total:
                break
            assert time.monotonic() < deadline, (
                f"after {JOIN_DEADLINE_S}s: heartbeats {counts} (want both > 0, sum {total}); "
                f"{problems or 'every partition has one owner'}"
            )
            time.sleep(0.2)
        # Each worker reports what it holds: its share of the members' views.
        for w, mine in zip((first, second), held, strict=True):
            assert beats[w.proc.pid] == sum(len(ps) for ps in mine.values())  # type: ignore[union-attr]
        # The one-partition audit topic: one audit-writer holds it, the other none.
        assert sorted(len(h.get("audit-writer", set())) for h in held) == [0, 1]
    finally:
        for w in (second, first):
            if w.proc and w.proc.poll() is None:
                assert w.stop() == 0
