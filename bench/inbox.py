"""`hub bench inbox`: how fast a paging reader drains a pull inbox while 3 writers fill it.

Two runs on the same database, each with its own recipients:

- inbox: what the hub does. A backlog of N deliveries is stored first; then 3 writer threads
  (each with its own engine, like 3 workers) store N more with `InboxStore.add` in batches of
  100, while one reader pages through every recipient with `InboxStore.fetch` (which records
  the cursor handed out) and acknowledges each page with `InboxStore.ack`, until it has read
  all 2N.
- plain SELECT: the baseline. The same writers and backlog; the reader pages with a bare
  `SELECT cursor, payload ... WHERE recipient = ? AND cursor > ? ORDER BY cursor LIMIT ?`
  (no JSON decoding, no hand-out record, no acknowledgement).

Write rate = N / the writers' wall time; read rate = 2N / the time the reader spent in page
calls that returned deliveries (its capacity while the writers write; once it has caught up it
waits on them); "caught up" = how long after the last writer finished it had read all 2N. The rows the
bench wrote (recipients `bench-inbox-<run>-*`) are deleted at the end, so it can run against a
live database, though a throw-away one is the right place for it.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, delete, select

from hub.db.engine import make_engine, migrate
from hub.db.tables import InboxCursor, InboxItem, InboxReader
from hub.inbox.store import InboxStore
from hub.routing.messages import Delivery, delivery_id

WRITERS: Final = 3
RECIPIENTS: Final = 4
BATCH: Final = 100
PAGE: Final = 500
NOW: Final = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
_ITEMS = InboxItem.__table__  # type: ignore[attr-defined]
BENCH_TABLES = (_ITEMS, InboxCursor.__table__, InboxReader.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class InboxRun:
    reader: str
    written: int
    write_s: float
    read: int
    read_s: float
    busy_s: float

    @property
    def write_rate(self) -> float:
        return self.written / self.write_s

    @property
    def read_rate(self) -> float:
        """Deliveries read per second of the reader's time spent reading pages that had some."""
        return self.read / self.busy_s

    @property
    def caught_up_s(self) -> float:
        """How long after the last writer finished the reader had read everything."""
        return max(0.0, self.read_s - self.write_s)


@dataclass(frozen=True)
class InboxBenchResult:
    dialect: str
    runs: tuple[InboxRun, ...]


Page = Callable[[str, int], list[int]]
"""Reads one page of `recipient` after a cursor; returns the cursors read."""


def _batches(prefix: str, tag: str, count: int) -> list[tuple[list[Delivery], list[str]]]:
    deliveries = [
        Delivery(
            delivery_id=delivery_id(
                f"{tag}-{i}", f"{prefix}{i % RECIPIENTS}", source="council-tax"
            ),
            event_id=f"{tag}-{i}",
            event_type="address.changed",
            source="council-tax",
            subject=f"P-{i}",
            subject_key="k" * 32,
            recipient=f"{prefix}{i % RECIPIENTS}",
            local_id=f"PRK-{i}",
            event_time=NOW,
            agreement_id="DSA-003",
            agreement_version="bench",
            lawful_basis="UK GDPR Art. 6(1)(e)",
            purpose="bench",
            fields=("effective_date", "new_address.postcode", "new_address.uprn"),
            data={
                "effective_date": "2026-11-20",
                "new_address": {"postcode": "EX4 7QT", "uprn": "100023412345"},
            },
            decided_at=NOW,
        )
        for i in range(count)
    ]
    return [
        (chunk, [d.model_dump_json() for d in chunk])
        for chunk in (deliveries[i : i + BATCH] for i in range(0, count, BATCH))
    ]


def _write(url: str, batches: list[tuple[list[Delivery], list[str]]]) -> None:
    engine = make_engine(url)
    try:
        store = InboxStore(engine)
        for deliveries, payloads in batches:
            store.add(deliveries, NOW, payloads)
    finally:
        engine.dispose()


def _hub_page(store: InboxStore) -> Page:
    def page(recipient: str, after: int) -> list[int]:
        entries = store.fetch(recipient, after, PAGE)
        if entries:
            store.ack(recipient, entries[-1].cursor, NOW)
        return [e.cursor for e in entries]

    return page


def _plain_page(engine: Engine) -> Page:
    def page(recipient: str, after: int) -> list[int]:
        stmt = (
            select(_ITEMS.c.cursor, _ITEMS.c.payload)
            .where(_ITEMS.c.recipient == recipient, _ITEMS.c.cursor > after)
            .order_by(_ITEMS.c.cursor)
            .limit(PAGE)
        )
        with engine.connect() as conn:
            return [int(c) for c, _ in conn.execute(stmt)]

    return page


def _run(url: str, engine: Engine, name: str, prefix: str, deliveries: int, page: Page) -> InboxRun:
    _write(url, _batches(prefix, "backlog", deliveries))
    per_writer = [_batches(prefix, f"w{w}", deliveries // WRITERS) for w in range(WRITERS)]
    written = sum(len(d) for batches in per_writer for d, _ in batches)
    expected = deliveries + written
    threads = [threading.Thread(target=_write, args=(url, b)) for b in per_writer]
    cursors = {f"{prefix}{r}": 0 for r in range(RECIPIENTS)}
    read = 0
    busy = 0.0
    start = time.perf_counter()
    for t in threads:
        t.start()
    write_s = 0.0
    deadline = time.monotonic() + 600
    while read < expected:
        for recipient, after in cursors.items():
            began = time.perf_counter()
            got = page(recipient, after)
            if got:
                busy += time.perf_counter() - began
                cursors[recipient] = got[-1]
                read += len(got)
        if not write_s and not any(t.is_alive() for t in threads):
            write_s = time.perf_counter() - start
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {name} reader read {read} of {expected} in 600 s")
    read_s = time.perf_counter() - start
    for t in threads:
        t.join()
    write_s = write_s or time.perf_counter() - start
    return InboxRun(name, written, write_s, read, read_s, busy)


def _clean(engine: Engine, prefix: str) -> None:
    with engine.begin() as conn:
        for t in BENCH_TABLES:
            conn.execute(delete(t).where(t.c.recipient.like(f"{prefix}%")))


def inbox_bench(url: str, deliveries: int) -> InboxBenchResult:
    engine = make_engine(url)
    migrate(engine)
    run_id = uuid.uuid4().hex[:8]
    runs: list[InboxRun] = []
    try:
        for name, page in (
            ("inbox (fetch + ack)", _hub_page(InboxStore(engine))),
            ("plain SELECT", _plain_page(engine)),
        ):
            prefix = f"bench-inbox-{run_id}-{len(runs)}-"
            try:
                runs.append(_run(url, engine, name, prefix, deliveries, page))
            finally:
                _clean(engine, prefix)
        return InboxBenchResult(engine.dialect.name, tuple(runs))
    finally:
        engine.dispose()


def run_inbox_bench(database_url: str | None, deliveries: int, console: Console) -> None:
    with tempfile.TemporaryDirectory(prefix="hub-inbox-bench-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        result = inbox_bench(url, deliveries)
    table = Table(
        title=f"Pull inbox on {result.dialect}: {WRITERS} writers (batches of {BATCH}) "
        f"while one reader pages {RECIPIENTS} recipients ({PAGE} a page) from a backlog of "
        f"{deliveries}"
    )
    for column in (
        "reader",
        "written",
        "write deliveries/s",
        "read",
        "read deliveries/s",
        "caught up (s after writers)",
    ):
        table.add_column(column, justify="left" if column == "reader" else "right")
    for run in result.runs:
        table.add_row(
            run.reader,
            str(run.written),
            f"{run.write_rate:,.0f}",
            str(run.read),
            f"{run.read_rate:,.0f}",
            f"{run.caught_up_s:.2f}",
        )
    console.print(table)
    console.print(
        "read deliveries/s: deliveries read per second of the reader's time in pages that had "
        "some; writes are 3 concurrent transactions of 100"
    )
