"""`hub bench match`: identity resolution on a generated UK-like population with known truth:
precision, recall, review share; bulk and one-event timings."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console

from hub.identity.thresholds import thresholds_for
from hub.settings import HubSettings
from hub.timeutil import utcnow
from runtime.matching import bulk_match, rows


def run_match_bench(people: int, recipients: int, events: int, seed: int, console: Console) -> None:
    """Generate, train, match in bulk at two threshold sets, then score events one by one."""
    from hub.identity.bulk import accuracy
    from hub.identity.generator import generate

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False)

    t0 = time.perf_counter()
    pop = generate(people, seed)
    say(
        f"generated {len(pop.reference)} reference and {len(pop.service)} service records "
        f"({len(pop.truth)} true pairs) in {time.perf_counter() - t0:.1f} s"
    )
    from hub.identity import splink_port

    t0 = time.perf_counter()
    params = splink_port.train(rows(pop.reference), rows(pop.service))
    train_s = time.perf_counter() - t0
    say(f"trained (EM, u by random sampling) in {train_s:.1f} s")
    settings_thresholds = HubSettings().match_thresholds
    for event_type in ("*", "death.notified"):
        limits = thresholds_for(event_type, settings_thresholds)
        result = bulk_match(params, pop.reference, pop.service, limits)
        acc = accuracy(result.decisions, pop.truth)
        say(
            f"[{event_type}] auto>={limits.auto_link} review>={limits.review}: "
            f"bulk {len(pop.reference)} x {len(pop.service)} in {result.seconds:.1f} s; "
            f"precision {acc.precision:.4f} ({acc.auto_correct}/{acc.auto}), "
            f"recall {acc.recall:.4f} ({acc.found}/{acc.true_pairs}), "
            f"review share {acc.review_share:.4f} ({acc.review}), unmatched {acc.unmatched}"
        )
    _bench_events(params, pop, recipients, events, seed, say)


def _bench_events(
    params: dict[str, Any],
    pop: Any,
    recipients: int,
    events: int,
    seed: int,
    say: Callable[[str], None],
) -> None:
    import random

    from hub.db.engine import make_engine, migrate
    from hub.identity.extracts import ExtractBatch
    from hub.identity.matcher import resolve
    from hub.identity.model import MatchModel
    from hub.identity.store import ServiceRecords

    model = MatchModel.from_params(params)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        migrate(engine)
        records = ServiceRecords(engine)
        t0 = time.perf_counter()
        systems = [f"service-{i}" for i in range(recipients)]
        for system in systems:
            records.apply(system, ExtractBatch(tuple(pop.service), ()), utcnow())
        say(
            f"loaded {recipients} x {len(pop.service)} extract records in {time.perf_counter() - t0:.1f} s"
        )
        rng = random.Random(seed)
        held = {ref for ref in pop.truth.values()}
        probes = [p for p in pop.reference if p.local_id in held]
        times = []
        for person in rng.sample(probes, min(events, len(probes))):
            started = time.perf_counter()
            resolve(
                model, records, person, "address.changed", systems, HubSettings().match_thresholds
            )
            times.append((time.perf_counter() - started) * 1000)
        engine.dispose()
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    say(
        f"one event against {recipients} recipients ({len(times)} events): "
        f"p50 {statistics.median(times):.1f} ms, p99 {p99:.1f} ms, max {times[-1]:.1f} ms"
    )
