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


def run_match_bench(
    people: int,
    recipients: int,
    events: int,
    seed: int,
    console: Console,
    events_only: bool = False,
    train_people: int | None = None,
) -> None:
    """Generate, train, match in bulk at two threshold sets, then score events one by one.
    `events_only`: skip the bulk runs (and train on `train_people` of each extract)."""
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
    n_train = train_people or len(pop.reference)
    params = splink_port.train(
        rows(pop.reference[:n_train]), rows(pop.service[:n_train]), progress=say
    )
    train_s = time.perf_counter() - t0
    say(f"trained on {n_train} people (EM, u by random sampling) in {train_s:.1f} s")
    if events_only:
        _bench_events(params, pop, recipients, events, seed, say)
        return
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
        sample = rng.sample(probes, min(events, len(probes)))
        thresholds = HubSettings().match_thresholds
        base: list[float] = []
        times: list[float] = []
        for person in sample:  # the baseline, then the event, one after the other
            started = time.perf_counter()
            for system in systems:
                records.get(system, person.local_id)
            base.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            resolve(model, records, person, "address.changed", systems, thresholds)
            times.append((time.perf_counter() - started) * 1000)
        engine.dispose()
    b50, b99 = _p50_p99(base)
    p50, p99 = _p50_p99(times)
    say(
        f"one event against {recipients} recipients x {len(pop.service)} records "
        f"({len(times)} events): p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(times):.1f} ms"
    )
    say(
        f"baseline (one indexed lookup by id per recipient, same run): p50 {b50:.2f} ms, "
        f"p99 {b99:.2f} ms; event / baseline: p50 x{p50 / b50:.1f}, p99 x{p99 / b99:.1f}"
    )


def _p50_p99(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
