"""`hub bench flow`: hub throughput, latency and memory against a raw aiokafka fan-out, same broker, same run.

For each fan-out width K a fresh embedded stack is started with a generated configuration
(one source, K subscribed recipients, one agreement). Figures:

- hub: N events published (batched, acks=all) while the worker routes, delivers to the pull
  inbox and audits; events/s in = N / (time until the last audit row is in the database).
- raw: the same N encoded events published to a topic while a plain aiokafka loop consumes
  each and produces it to K topics (no decoding); events/s in = N / (time until all acked).
- latency: events paced at --rate for a few seconds; accepted (broker ack) -> audited (row
  recorded) per event, p50/p99.
- worker peak memory: VmHWM of the worker process.
"""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from aiokafka.admin import NewTopic
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from hub.broker.admin import make_admin
from hub.broker.consumer import make_consumer
from hub.broker.producer import AiokafkaSender, make_producer
from hub.db.engine import make_engine
from hub.db.tables import AuditRecord
from hub.events.envelope import Envelope, Event
from hub.events.publisher import EventPublisher
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from hub.subjects.changes import LinkChange
from hub.subjects.store import SubjectChanges, SubjectStore
from hub.timeutil import utcnow
from runtime.stack import Stack
from runtime.wiring import wire

_AUDIT = AuditRecord.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class BenchResult:
    k: int
    events: int
    hub_events_s: float
    raw_events_s: float
    p50_ms: float
    p99_ms: float
    paced_rate: int
    worker_peak_mib: float

    @property
    def ratio(self) -> float:
        return self.hub_events_s / self.raw_events_s if self.raw_events_s else 0.0


def write_bench_config(directory: Path, k: int) -> None:
    (directory / "agreements").mkdir(parents=True, exist_ok=True)
    lines = ["systems:"]
    for sid, roles, subs in [("bench-source", "source", "")] + [
        (f"bench-r{i}", "recipient", "address.changed") for i in range(1, k + 1)
    ]:
        key_hash = hashlib.sha256(f"bench-{sid}".encode()).hexdigest()
        lines += [
            f"  - id: {sid}",
            f"    name: {sid}",
            f"    roles: [{roles}]",
            f"    api_key_sha256: {key_hash}",
        ]
        if subs:
            lines.append(f"    subscriptions: [{subs}]")
    (directory / "systems.yaml").write_text("\n".join(lines) + "\n")
    recipients = ", ".join(f"bench-r{i}" for i in range(1, k + 1))
    (directory / "agreements" / "bench.yaml").write_text(
        "id: BENCH-1\ntitle: bench\nproviders: [bench-source]\n"
        f"recipients: [{recipients}]\n"
        "shares:\n  address.changed: [new_address, effective_date]\n"
        "purpose: benchmark\nlawful_basis: bench\nvalid_from: 2020-01-01\nstatus: active\ndata_owner: bench\n"
        "review_by: 2099-12-31\nrecipient_retention: bench\n"
    )


BENCH_PEOPLE = 5_000  # distinct people the events are about, each linked to every recipient


def link_bench_people(settings: HubSettings, k: int) -> None:
    """Every bench person has a record in every recipient (bulk-loaded: set-up, not measured)."""
    engine = make_engine(settings.effective_database_url)
    links = [
        LinkChange(f"bench-link-{p}-{r}", f"P-{p}", f"bench-r{r}", f"R{r}-{p}", utcnow())
        for p in range(BENCH_PEOPLE)
        for r in range(1, k + 1)
    ]
    SubjectStore(engine).record(SubjectChanges(links=links), utcnow())
    engine.dispose()


def bench_event(i: int, run: str) -> Event:
    address = {
        "uprn": f"{100000 + i}",
        "lines": ["1 Bench Street", "Exampleton"],
        "postcode": "EX1 1AA",
    }
    return Event(
        envelope=Envelope(
            id=f"bench-{run}-{i}",
            source="bench-source",
            type="address.changed",
            subject=f"P-{i % BENCH_PEOPLE}",
            time=utcnow(),
            dataschema="urn:tellitonce:schema:address.changed:v1",
        ),
        data={
            "previous_address": address,
            "new_address": address,
            "effective_date": date.today() - timedelta(days=7),
        },
    )


def _audit_count(engine: object, run: str) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        stmt = (
            select(func.count()).select_from(_AUDIT).where(_AUDIT.c.event_id.like(f"bench-{run}-%"))
        )
        return int(conn.execute(stmt).scalar_one())


async def _publish(publisher: EventPublisher, events: list[Event], chunk: int = 2000) -> None:
    for start in range(0, len(events), chunk):
        await publisher.publish_many(events[start : start + chunk])


async def hub_throughput(stack: Stack, publisher: EventPublisher, n: int, k: int) -> float:
    engine = make_engine(stack.settings.effective_database_url)
    run = f"t{k}"
    events = [bench_event(i, run) for i in range(n)]
    started = time.perf_counter()
    await _publish(publisher, events)
    while _audit_count(engine, run) < n * k:
        stack.check_alive()
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return n / elapsed


async def hub_latency(
    stack: Stack, publisher: EventPublisher, rate: int, k: int, seconds: float = 4.0
) -> list[float]:
    engine = make_engine(stack.settings.effective_database_url)
    run = f"l{k}"
    total = int(rate * seconds)
    accepted: dict[str, float] = {}
    tick = 0.02
    per_tick = max(1, int(rate * tick))
    start = time.perf_counter()
    sent = 0
    while sent < total:
        batch = [bench_event(i, run) for i in range(sent, min(total, sent + per_tick))]
        for receipt in await publisher.publish_many(batch):
            accepted[receipt.event_id] = utcnow().timestamp()
        sent += len(batch)
        delay = start + (sent / rate) - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    while _audit_count(engine, run) < total * k:
        stack.check_alive()
        await asyncio.sleep(0.05)
    last_row: dict[str, float] = {}
    with engine.connect() as conn:
        stmt = (
            select(_AUDIT.c.event_id, func.max(_AUDIT.c.recorded_at))
            .where(_AUDIT.c.event_id.like(f"bench-{run}-%"))
            .group_by(_AUDIT.c.event_id)
        )
        for event_id, recorded in conn.execute(stmt):
            last_row[event_id] = recorded.timestamp()
    engine.dispose()
    return sorted((last_row[e] - accepted[e]) * 1000 for e in accepted if e in last_row)


async def raw_fanout(
    bootstrap: str, settings: HubSettings, payload: bytes, n: int, k: int
) -> float:
    """A plain aiokafka consume -> produce-to-K loop: the ceiling the hub is compared with."""
    tag = f"raw{k}-{time.time_ns()}"
    admin = make_admin(settings, bootstrap)
    await admin.start()
    parts = settings.topic_partitions
    await admin.create_topics(
        [NewTopic(f"{tag}.in", parts, 1)] + [NewTopic(f"{tag}.out{i}", parts, 1) for i in range(k)]
    )
    await admin.close()
    producer = make_producer(settings, bootstrap)
    await producer.start()
    consumer = make_consumer(
        settings,
        f"{tag}.in",
        bootstrap=bootstrap,
        group_id=tag,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=settings.consumer_fetch_wait_ms,
        session_timeout_ms=int(settings.broker_session_timeout_s * 1000),
        heartbeat_interval_ms=2000,
    )
    await consumer.start()
    while not consumer.assignment():
        await asyncio.sleep(0.05)

    async def feed() -> None:
        futures = [
            await producer.send(f"{tag}.in", payload, key=str(i % 50_000).encode())
            for i in range(n)
        ]
        await asyncio.gather(*futures)

    started = time.perf_counter()
    feeder = asyncio.create_task(feed())
    done = 0
    while done < n:
        batches = await consumer.getmany(timeout_ms=100, max_records=settings.agent_batch_size)
        futures = []
        for records in batches.values():
            for record in records:
                for i in range(k):
                    futures.append(
                        await producer.send(f"{tag}.out{i}", record.value, key=record.key)
                    )
                done += 1
        if futures:
            await asyncio.gather(*futures)
            await consumer.commit()
    elapsed = time.perf_counter() - started
    await feeder
    await consumer.stop()
    await producer.stop()
    return n / elapsed


def worker_peak_mib(stack: Stack) -> float:
    worker = next(c for c in stack.children if c.name == "worker")
    try:
        for line in Path(f"/proc/{worker.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def measure(settings: HubSettings, n: int, k: int, rate: int) -> BenchResult:
    with tempfile.TemporaryDirectory(prefix=f"hub-bench-{k}-") as tmp:
        config_dir = Path(tmp) / "config"
        write_bench_config(config_dir, k)
        s = settings.model_copy(
            update={
                "config_dir": config_dir,
                "data_dir": Path(tmp) / "data",
                "api_port": 0,
                "log_level": "WARNING",
            }
        )
        with Stack(s) as stack:
            link_bench_people(stack.settings, k)
            w = wire(stack.settings)
            bootstrap = stack.settings.kafka_bootstrap

            async def run() -> tuple[float, float, list[float]]:
                producer = make_producer(stack.settings, bootstrap)
                await producer.start()
                publisher = EventPublisher(
                    AiokafkaSender(producer), w.codec, w.names, keys=record_keys(stack.settings)
                )
                try:
                    await _publish(
                        publisher, [bench_event(i, f"w{k}") for i in range(200)]
                    )  # warm-up
                    hub = await hub_throughput(stack, publisher, n, k)
                    latencies = await hub_latency(stack, publisher, rate, k) if rate else []
                finally:
                    await producer.stop()
                payload = w.codec.encode_event(bench_event(0, "raw")).value
                raw = await raw_fanout(bootstrap, stack.settings, payload, n, k)
                return hub, raw, latencies

            hub, raw, latencies = asyncio.run(run())
            peak = worker_peak_mib(stack)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = (
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        if latencies
        else float("nan")
    )
    return BenchResult(k, n, hub, raw, p50, p99, rate, peak)


def run_bench(
    settings: HubSettings, n: int, ks: list[int], rate: int, console: Console
) -> list[BenchResult]:
    results = []
    for k in ks:
        console.print(f"K={k}: starting a fresh embedded stack and pushing {n} events...")
        results.append(measure(settings, n, k, rate))
    table = Table(title=f"Hub vs raw aiokafka fan-out ({n} events, embedded broker)")
    for column in (
        "K",
        "hub events/s in",
        "hub deliveries/s out",
        "raw events/s in",
        "hub/raw",
        f"p50 ms @{rate}/s",
        f"p99 ms @{rate}/s",
        "worker peak MiB",
    ):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            str(r.k),
            f"{r.hub_events_s:,.0f}",
            f"{r.hub_events_s * r.k:,.0f}",
            f"{r.raw_events_s:,.0f}",
            f"{r.ratio:.2f}",
            f"{r.p50_ms:.0f}",
            f"{r.p99_ms:.0f}",
            f"{r.worker_peak_mib:.0f}",
        )
    console.print(table)
    return results
