"""`hub bench metrics`: how long a Prometheus scrape of `/metrics` takes with N audit rows.

Fills a fresh SQLite database (or, with --database-url, a PostgreSQL one) with N audit rows in
bulk (one INSERT ... SELECT per million rows: bench data, not a valid chain), starts the API
against it and the embedded broker, and prints in one run:

- the scrape: p50 and p99 of 20 scrapes of /metrics (in-process HTTP client);
- the background refresh of the business gauges (what the API does every
  HUB_METRICS_REFRESH_INTERVAL_S, off the scrape path);
- the baseline: the queries the old /metrics ran on every scrape (whole-table counts and
  groupings of the audit store), timed on the same database.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, select, text

from hub.audit.ledger import AUDIT, HEAD
from hub.broker.admin import ensure_topics
from hub.broker.embedded import EmbeddedBroker
from hub.db.engine import make_engine, migrate
from hub.db.tables import QualityCounter, RejectedEvent, WorkerHeartbeat
from hub.settings import HubSettings
from hub.timeutil import utcnow

CHUNK = 1_000_000
SCRAPES = 20
RECIPIENTS = ("waste", "libraries", "parking", "adult-social-care", "electoral")
QUALITY = QualityCounter.__table__  # type: ignore[attr-defined]
REJECTED = RejectedEvent.__table__  # type: ignore[attr-defined]
HEARTBEATS = WorkerHeartbeat.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Timing:
    p50_ms: float
    p99_ms: float
    runs: int

    @staticmethod
    def of(seconds: list[float]) -> Timing:
        ordered = sorted(seconds)
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        return Timing(statistics.median(ordered) * 1000, p99 * 1000, len(ordered))


def _select_rows(dialect: str, start: int, stop: int) -> str:
    """Rows start..stop-1 as one INSERT ... SELECT: sequential ids keep every index append-only."""
    n = len(RECIPIENTS)
    recipient = " ".join(f"WHEN {i} THEN '{r}'" for i, r in enumerate(RECIPIENTS))
    if dialect == "sqlite":
        series = (
            f"WITH RECURSIVE s(x) AS (SELECT {start} UNION ALL SELECT x + 1 FROM s "
            f"WHERE x < {stop - 1}) "
        )
        source, pad, at = "FROM s", "printf('%012d', x)", "datetime('now')"
        hexkey = "printf('%064x', x)"
    else:
        series = ""
        source = f"FROM generate_series({start}, {stop - 1}) AS s(x)"
        pad, at, hexkey = "lpad(x::text, 12, '0')", "now()", "lpad(to_hex(x), 64, '0')"
    return (
        f"{series}INSERT INTO audit_record (seq, entry_id, recorded_at, delivery_id, event_id, "
        "event_type, source, recipient, subject_key, outcome, reason_codes, reasons, "
        "agreement_id, agreement_version, lawful_basis, fields, event_time, decided_at, mode, "
        "subject_flags, attempt, prev_hash, row_hash) "
        f"SELECT x, 'bench-' || {pad}, {at}, 'd-' || {pad}, 'ev-' || {pad}, 'address.changed', "
        f"'council-tax', CASE x % {n} {recipient} END, {hexkey}, "
        "CASE WHEN x % 4 = 0 THEN 'withheld' ELSE 'delivered' END, '', '[]', 'DSA-ADDR-001', "
        "'a1b2c3', 'UK GDPR Art. 6(1)(e)', 'new_address.postcode', "
        f"{at}, {at}, 'live', '[]', 1, '', '' {source}"
    )


def fill(engine: Engine, rows: int, console: Console) -> float:
    """N audit rows (after those already there) and the chain head moved to the last; seconds."""
    started = time.perf_counter()
    dialect = engine.dialect.name
    with engine.connect() as conn:
        first = int(conn.execute(select(func.coalesce(func.max(AUDIT.c.seq), 0))).scalar_one()) + 1
    for start in range(first, first + rows, CHUNK):
        stop = min(start + CHUNK, first + rows)
        with engine.begin() as conn:
            if dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.execute(text(_select_rows(dialect, start, stop)))
        console.print(f"  {stop - first:,} rows", end="\r")
    with engine.begin() as conn:
        conn.execute(HEAD.update().values(head_seq=first + rows - 1))
        if dialect == "postgresql":  # the rows carry their seq: move the serial past them
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('audit_record', 'seq'), :n)"),
                {"n": first + rows - 1},
            )
    return time.perf_counter() - started


def old_scrape_queries(engine: Engine) -> None:
    """The queries the old /metrics ran on every scrape (whole-table counts and groupings)."""
    with engine.connect() as conn:
        conn.execute(
            select(QUALITY.c.source, QUALITY.c.event_type, func.sum(QUALITY.c.count))
            .where(QUALITY.c.outcome == "accepted")
            .group_by(QUALITY.c.source, QUALITY.c.event_type)
        ).all()
        conn.execute(select(REJECTED.c.source, func.count()).group_by(REJECTED.c.source)).all()
        conn.execute(
            select(AUDIT.c.recipient, AUDIT.c.outcome, func.count()).group_by(
                AUDIT.c.recipient, AUDIT.c.outcome
            )
        ).all()
        conn.execute(
            select(func.coalesce(func.sum(AUDIT.c.attempt - 1), 0)).where(AUDIT.c.attempt > 1)
        ).scalar_one()
        conn.execute(select(HEAD.c.head_seq)).scalar_one_or_none()
        conn.execute(
            select(AUDIT.c.recorded_at, AUDIT.c.decided_at).order_by(AUDIT.c.seq.desc()).limit(1000)
        ).all()
        conn.execute(
            select(func.count()).where(HEARTBEATS.c.last_seen >= utcnow() - timedelta(seconds=10))
        ).scalar_one()


def _timed(run: Callable[[], object], times: int) -> Timing:
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return Timing.of(seconds)


def run_metrics_bench(
    settings: HubSettings,
    audit_rows: int,
    database_url: str | None,
    baseline_runs: int,
    console: Console,
) -> None:
    from fastapi.testclient import TestClient

    from hub.api.health import Probes
    from runtime.api import create_app
    from runtime.wiring import wire

    with tempfile.TemporaryDirectory(prefix="hub-bench-metrics-") as tmp:
        base = settings.model_copy(
            update={"data_dir": Path(tmp) / "data", "database_url": database_url or ""}
        )
        base.data_dir.mkdir(parents=True)
        engine = make_engine(base.effective_database_url)
        migrate(engine)
        where = "PostgreSQL" if engine.dialect.name == "postgresql" else "SQLite"
        console.print(f"Filling {where} with {audit_rows:,} audit rows...")
        filled = fill(engine, audit_rows, console)
        with engine.connect() as conn:
            total = int(conn.execute(select(HEAD.c.head_seq)).scalar_one())
        console.print(f"  {audit_rows:,} rows in {filled:.0f}s ({total:,} in the store)")

        console.print(f"Baseline: the old per-scrape queries, {baseline_runs} runs...")
        baseline = _timed(lambda: old_scrape_queries(engine), baseline_runs)

        with EmbeddedBroker(log_file=Path(tmp) / "broker.log") as broker:
            run = base.model_copy(
                update={"kafka_bootstrap": broker.bootstrap, "metrics_refresh_interval_s": 3600}
            )
            asyncio.run(ensure_topics(run, wire(run).topics()))
            with TestClient(create_app(run)) as client:
                probes: Probes = client.app.state.probes  # type: ignore[attr-defined]
                cache = probes.gauges
                assert cache is not None
                deadline = time.monotonic() + 120
                while cache.refresh_state.at == 0:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the business gauges were not computed in 120 s")
                    time.sleep(0.05)
                refresh_s = cache.refresh_state.seconds
                client.get("/metrics")  # warm up
                scrape = _timed(lambda: client.get("/metrics").raise_for_status(), SCRAPES)
        engine.dispose()

    table = Table(title=f"/metrics with {total:,} audit rows on {where}")
    for col in ("what", "p50 ms", "p99 ms", "runs"):
        table.add_column(col, justify="left" if col == "what" else "right")
    table.add_row("scrape (new)", f"{scrape.p50_ms:.1f}", f"{scrape.p99_ms:.1f}", str(scrape.runs))
    table.add_row("gauges refresh (background)", f"{refresh_s * 1000:.1f}", "", "1")
    table.add_row(
        "old per-scrape queries (baseline)",
        f"{baseline.p50_ms:.1f}",
        f"{baseline.p99_ms:.1f}",
        str(baseline.runs),
    )
    console.print(table)
    verdict = "meets" if scrape.p99_ms < 100 else "MISSES"
    console.print(f"Scrape p99 {scrape.p99_ms:.1f} ms: {verdict} the 100 ms target.")
