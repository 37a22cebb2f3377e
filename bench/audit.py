"""`hub bench audit`: the audit store's speed, in figures.

- writer: N rows appended through AuditStore.write (the audit writer's call), `batch` rows per
  transaction, each chained under the head lock; rows/s. On SQLite (the embedded default) and on
  PostgreSQL (the production shape; a throw-away local server unless --database-url names one).
- raw insert, the baseline in the same run: the same rows in their stored form into the same
  table and indexes in another fresh database, by one plain executemany (SQLite) or COPY
  (PostgreSQL) per `batch` rows and a commit (no entry to row, no chain, no head): what the
  database alone costs; the writer's ratio to it.
- subject access (SQLite): the report for one person among N/10 people (the query plus its
  access-log row), median and worst of 20 people; target < 200 ms.
- verify (SQLite): `hub audit verify`'s full recomputation of the chain; rows/s, target >= 200k.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from sqlalchemy import Engine

from bench.pg_server import fresh_database, postgres_server
from hub.audit.checkpoint import CheckpointStore
from hub.audit.ledger import insert_rows
from hub.audit.queries import PersonRef
from hub.audit.signing import Signer
from hub.audit.store import AuditStore, entry_row
from hub.audit.subject_access import SubjectAccess
from hub.audit.verify import verify_chain
from hub.db.engine import make_engine, migrate
from hub.pseudonym import subject_key
from hub.routing.messages import AuditEntry, AuditReason, Outcome, delivery_id

SECRET = "bench-pseudonym-key"
RECIPIENTS = ("waste", "libraries", "parking", "adult-social-care", "electoral")
ROWS_PER_PERSON = 10


def _entries(start: int, stop: int, people: int, t0: datetime) -> list[AuditEntry]:
    out = []
    for i in range(start, stop):
        person = i % people
        recipient = RECIPIENTS[i % len(RECIPIENTS)]
        withheld = i % 4 == 0
        outcome = Outcome.WITHHELD if withheld else Outcome.DELIVERED
        did = delivery_id(f"ev-{i}", recipient, source="council-tax")
        out.append(
            AuditEntry(
                entry_id=AuditEntry.make_id(did, outcome),
                delivery_id=did,
                event_id=f"ev-{i}",
                event_type="address.changed",
                source="council-tax",
                recipient=recipient,
                subject_key=subject_key(SECRET, f"P-{person}"),
                outcome=outcome,
                reasons=(AuditReason(code="no_agreement", message="no agreement"),)
                if withheld
                else (),
                agreement_id=None if withheld else "DSA-ADDR-001",
                agreement_version=None if withheld else "a1b2c3d4e5f6",
                lawful_basis=None if withheld else "UK GDPR Art. 6(1)(e)",
                fields=() if withheld else ("new_address.line1", "new_address.postcode"),
                event_time=t0,
                decided_at=t0 + timedelta(microseconds=i),
                local_id=f"{recipient[:3].upper()}-{person}",
                purpose=None if withheld else "service delivery",
            )
        )
    return out


WRITER_TARGET_ROWS_S = 30_000
DATABASES = ("sqlite", "postgresql")


def run_audit_bench(
    rows: int, batch: int, databases: Sequence[str], database_url: str | None, console: Console
) -> None:
    people = max(1, rows // ROWS_PER_PERSON)
    t0 = datetime.now(UTC) - timedelta(days=1)
    if "sqlite" in databases:
        _sqlite_run(rows, batch, people, t0, console)
    if "postgresql" in databases:
        _postgresql_run(rows, batch, people, t0, database_url, console)


def _sqlite_run(rows: int, batch: int, people: int, t0: datetime, console: Console) -> None:
    with tempfile.TemporaryDirectory(prefix="hub-bench-audit-") as tmp:
        engine = _fresh_engine(f"sqlite:///{Path(tmp) / 'audit.db'}")
        rate = _writer_rate(engine, rows, batch, people, t0)
        raw = _raw_insert_rate(f"sqlite:///{Path(tmp) / 'raw.db'}", rows, batch, people, t0)
        _print_writer(console, "SQLite", rows, batch, rate, raw, "executemany")
        access = SubjectAccess(engine, SECRET)
        timings = []
        found = 0
        for k in range(20):
            person = PersonRef(hub_id=f"P-{(k * 7919) % people}")
            began = time.perf_counter()
            report = access.report(person, "bench", "benchmark run", "cli", datetime.now(UTC))
            timings.append((time.perf_counter() - began) * 1000)
            found += len(report.delivered) + len(report.withheld)
        console.print(
            f"subject access report: median {statistics.median(timings):.1f} ms, worst "
            f"{max(timings):.1f} ms over 20 people among {people:,} ({found / 20:.0f} rows each; "
            "target < 200 ms)"
        )
        result = verify_chain(
            engine, CheckpointStore(engine, Signer(Ed25519PrivateKey.generate()).verifier)
        )
        assert result.ok, result.first_break
        console.print(
            f"verify: {result.rows_checked:,} rows in {result.seconds:.2f}s = "
            f"{result.rows_per_second:,.0f} rows/s (target >= 200,000)"
        )
        engine.dispose()


def _postgresql_run(
    rows: int, batch: int, people: int, t0: datetime, url: str | None, console: Console
) -> None:
    with postgres_server(url) as admin_url:
        stamp = time.time_ns()
        with fresh_database(admin_url, f"bench_audit_{stamp}") as writer_url:
            engine = _fresh_engine(writer_url)
            rate = _writer_rate(engine, rows, batch, people, t0)
            engine.dispose()
        with fresh_database(admin_url, f"bench_audit_raw_{stamp}") as raw_url:
            raw = _raw_insert_rate(raw_url, rows, batch, people, t0)
    _print_writer(console, "PostgreSQL", rows, batch, rate, raw, "COPY")


def _fresh_engine(url: str) -> Engine:
    engine = make_engine(url)
    migrate(engine)
    return engine


def _writer_rate(engine: Engine, rows: int, batch: int, people: int, t0: datetime) -> float:
    """Rows/s of AuditStore.write, `batch` entries a call (building the entries not counted)."""
    store = AuditStore(engine)
    seconds = 0.0
    for start in range(0, rows, batch):
        entries = _entries(start, min(rows, start + batch), people, t0)
        began = time.perf_counter()
        store.write(entries, datetime.now(UTC))
        seconds += time.perf_counter() - began
    return rows / seconds


def _print_writer(
    console: Console, where: str, rows: int, batch: int, rate: float, raw: float, how: str
) -> None:
    ok = "[green]PASS[/green]" if rate >= WRITER_TARGET_ROWS_S else "[red]FAIL[/red]"
    console.print(
        f"{ok} writer on {where}: {rows:,} rows = {rate:,.0f} rows/s "
        f"({batch} rows per transaction, one chain; target >= {WRITER_TARGET_ROWS_S:,}); "
        f"raw insert of the same rows ({how}, same table and indexes, no chain), the baseline "
        f"in this run: {raw:,.0f} rows/s, writer/raw = {rate / raw:.2f}"
    )


def _raw_insert_rate(url: str, rows: int, batch: int, people: int, t0: datetime) -> float:
    """Rows/s of plain inserts of the writer's rows (stored form, placeholder chain columns)
    into a fresh database with the same schema: the database's own cost, the baseline."""
    engine = _fresh_engine(url)
    seconds = 0.0
    at = datetime.now(UTC)
    try:
        for start in range(0, rows, batch):
            stored = [
                entry_row(e, at) for e in _entries(start, min(rows, start + batch), people, t0)
            ]
            for seq, row in enumerate(stored, start + 1):
                row.update(seq=seq, prev_hash="0" * 64, row_hash=f"{seq:064x}")
            began = time.perf_counter()
            with engine.begin() as conn:
                insert_rows(conn, stored)
            seconds += time.perf_counter() - began
    finally:
        engine.dispose()
    return rows / seconds
