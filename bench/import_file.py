"""`hub bench import`: a generated N-row CSV imported end to end to a fresh embedded broker.

Figures, in one run on the same broker:
- import rows/s: read + parse + map + validate every row + encode + publish in batches with the
  broker's acknowledgement + save the position after each batch + write the results file;
- raw records/s: the same N records, encoded beforehand, produced by a plain aiokafka loop
  (batches awaited the same way), nothing else: the ceiling;
- their ratio. The project's target is 5,000 rows/s.
"""

from __future__ import annotations

import asyncio
import csv
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from connectors.file_drop import ImportContext, import_file
from hub.broker.admin import ensure_topics
from hub.broker.embedded import EmbeddedBroker
from hub.broker.producer import AiokafkaSender, make_producer
from hub.config.model import Role
from hub.connectors.mapping import RowMapping
from hub.connectors.rows import ImportTarget
from hub.connectors.store import ConnectorStore
from hub.events.publisher import EventPublisher
from hub.journal.store import JournalStore
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from hub.timeutil import uk_date, utcnow
from runtime.wiring import open_stores, wire

TARGET_ROWS_S = 5000
EVENT_TYPE = "address.changed"
COLUMNS = (
    "subject",
    "previous_address.uprn",
    "previous_address.lines.1",
    "previous_address.lines.2",
    "previous_address.postcode",
    "new_address.uprn",
    "new_address.lines.1",
    "new_address.lines.2",
    "new_address.postcode",
    "effective_date",
    "move_type",
)


@dataclass(frozen=True)
class ImportBenchResult:
    rows: int
    published: int
    import_s: float
    raw_s: float

    @property
    def rows_s(self) -> float:
        return self.rows / self.import_s

    @property
    def raw_rows_s(self) -> float:
        return self.rows / self.raw_s


def write_bench_csv(path: Path, rows: int, uprns: list[str], effective: str) -> None:
    """Valid address changes: UPRNs from the gazetteer in effect (if any), a recent date."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for i in range(rows):
            old = uprns[i % len(uprns)] if uprns else str(100_000_000 + i)
            new = uprns[(i + 1) % len(uprns)] if uprns else str(200_000_000 + i)
            writer.writerow(
                (
                    f"P-{i}",
                    old,
                    f"{i % 200 + 1} Mill Lane",
                    "Exeter",
                    "EX1 2AB",
                    new,
                    f"{i % 90 + 1} Orchard Close",
                    "Exeter",
                    "EX4 7QT",
                    effective,
                    "within_area",
                )
            )


async def _raw_produce(
    settings: HubSettings,
    bootstrap: str,
    records: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]],
    chunk: int,
) -> float:
    producer = make_producer(settings, bootstrap)
    await producer.start()
    try:
        started = time.perf_counter()
        for start in range(0, len(records), chunk):
            futures = [
                await producer.send(topic, value=value, key=key, headers=headers)
                for topic, value, key, headers in records[start : start + chunk]
            ]
            for fut in futures:
                await fut
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def _bench(settings: HubSettings, bootstrap: str, rows: int, work: Path) -> ImportBenchResult:
    w = wire(settings)
    await ensure_topics(settings, w.topics(), bootstrap)
    stores = open_stores(settings, schema="create")
    source = next(s.id for s in w.config.systems if Role.SOURCE in s.roles)
    uprns = sorted(w.rules.gazetteer.addresses)[:1000] if w.rules.gazetteer else []
    effective = (uk_date(utcnow()) - timedelta(days=7)).isoformat()
    path = work / "bench-import.csv"
    write_bench_csv(path, rows, uprns, effective)
    producer = make_producer(settings, bootstrap)
    await producer.start()
    try:
        publisher = EventPublisher(
            AiokafkaSender(producer),
            w.codec,
            w.names,
            JournalStore(stores.engine),
            keys=record_keys(settings),
        )
        ctx = ImportContext(
            publisher,
            ConnectorStore(stores.engine),
            w.registry,
            w.rules,
            settings.import_batch_size,
        )
        target = ImportTarget(
            source, EVENT_TYPE, RowMapping.from_headers(EVENT_TYPE, list(COLUMNS))
        )
        started = time.perf_counter()
        summary = await import_file(path, target, ctx)
        import_s = time.perf_counter() - started
    finally:
        await producer.stop()
    # The baseline: the same records, encoded beforehand, produced with nothing else to do.
    from hub.connectors.ids import file_sha256
    from hub.connectors.rows import RowDecider
    from hub.connectors.tabular import read_table

    data = path.read_bytes()
    decider = RowDecider(target, file_sha256(data) + "-raw", w.registry, w.rules.at(utcnow()))
    records = []
    for row in read_table(data, path.name).rows:
        event = decider.decide(row).event
        assert event is not None
        rec = w.codec.encode_event(event)
        records.append((w.names.events(EVENT_TYPE), rec.value, rec.key, list(rec.headers)))
    raw_s = await _raw_produce(settings, bootstrap, records, settings.import_batch_size)
    stores.engine.dispose()
    return ImportBenchResult(rows, summary.published, import_s, raw_s)


def run_import_bench(settings: HubSettings, rows: int, console: Console) -> ImportBenchResult:
    with tempfile.TemporaryDirectory(prefix="hub-bench-import-") as tmp:
        work = Path(tmp)
        with EmbeddedBroker(log_file=work / "broker.log") as broker:
            run_settings = settings.model_copy(
                update={
                    "data_dir": work / "data",
                    "database_url": "",
                    "kafka_bootstrap": broker.bootstrap,
                }
            )
            console.print(f"Importing a generated {rows:,}-row CSV to a fresh embedded broker...")
            result = asyncio.run(_bench(run_settings, broker.bootstrap, rows, work))
    table = Table(
        title=f"hub bench import ({rows:,} rows, batches of {settings.import_batch_size})"
    )
    for column in (
        "rows published",
        "import s",
        "import rows/s",
        "raw produce rows/s",
        "import/raw",
        f"target {TARGET_ROWS_S:,} rows/s",
    ):
        table.add_column(column)
    table.add_row(
        f"{result.published:,}",
        f"{result.import_s:.2f}",
        f"{result.rows_s:,.0f}",
        f"{result.raw_rows_s:,.0f}",
        f"{result.rows_s / result.raw_rows_s:.2f}",
        "met" if result.rows_s >= TARGET_ROWS_S else "NOT met",
    )
    console.print(table)
    return result
