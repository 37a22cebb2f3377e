"""A worker rides out what it can wait out: PostgreSQL down, SQLite locked, a group rebalance.

Each test keeps events flowing through the outage and then counts what arrived: every entitled
delivery in the inbox once, every final outcome in the audit store once, and the worker
processes still running (none exited on the way).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.pg_server import PgServer
from hub.db.engine import make_engine
from hub.db.tables import AuditRecord, InboxItem
from hub.events.publisher import EventPublisher
from hub.settings import HubSettings
from runtime.wiring import open_stores
from tests.conftest import JOURNEY_TIMEOUT_S
from tests.integration.conftest import WorkerProcess, reset_schema
from tests.integration.webhook_setup import move
from tests.people import RECIPIENTS, link_events, links_recorded
from tests.waiting import wait_for, wait_for_async

# a worker killed and restarted: every wait has its own deadline; this only guards a hang
pytestmark = pytest.mark.timeout(JOURNEY_TIMEOUT_S)

DELIVERED_TO = ("electoral", "parking", "waste")  # an address change, with the people linked
OUTCOMES_PER_MOVE = 5  # + libraries (no agreement) and adult social care (no consent): withheld
PEOPLE = [f"P-{i:03d}" for i in range(40)]

# Short backoffs: a test waits seconds, not the production minutes.
QUICK = {"retry_backoff_initial_s": 0.2, "retry_backoff_max_s": 1.0}


def counts(url: str) -> tuple[int, int, int, int]:
    """(inbox rows, distinct inbox deliveries, audit outcome rows, distinct (event, recipient))."""
    engine = make_engine(url)
    inbox = InboxItem.__table__  # type: ignore[attr-defined]
    audit = AuditRecord.__table__  # type: ignore[attr-defined]
    moves = audit.c.event_type == "address.changed"
    with engine.connect() as conn:
        inbox_rows = conn.execute(
            select(func.count()).select_from(inbox).where(inbox.c.event_id.like("evt-%"))
        ).scalar_one()
        inbox_distinct = conn.execute(
            select(func.count(func.distinct(inbox.c.delivery_id))).where(
                inbox.c.event_id.like("evt-%")
            )
        ).scalar_one()
        audit_rows = conn.execute(
            select(func.count()).select_from(audit).where(moves, audit.c.attempt.is_(None))
        ).scalar_one()
        audit_distinct = conn.execute(
            select(func.count()).select_from(
                select(audit.c.event_id, audit.c.recipient)
                .where(moves, audit.c.attempt.is_(None))
                .distinct()
                .subquery()
            )
        ).scalar_one()
    engine.dispose()
    return int(inbox_rows), int(inbox_distinct), int(audit_rows), int(audit_distinct)


def missing(url: str, most: int = 10) -> list[tuple[str, str, str, str]]:
    """Moves for a DELIVERED_TO recipient with no inbox row: (event id, recipient, audited
    outcome, reason codes), the outcome "" where the move has outcomes audited for other
    recipients but none for this one (a move with none audited at all is found from the audit,
    so it shows in the counts only). A "withheld" says the router decided so (why, in the
    codes); a "delivered" with no inbox row would be a lost update."""
    engine = make_engine(url)
    inbox = InboxItem.__table__  # type: ignore[attr-defined]
    audit = AuditRecord.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        held = set(
            conn.execute(
                select(inbox.c.event_id, inbox.c.recipient).where(inbox.c.event_id.like("evt-%"))
            ).all()
        )
        audited = conn.execute(
            select(audit.c.event_id, audit.c.recipient, audit.c.outcome, audit.c.reason_codes)
            .where(audit.c.event_type == "address.changed", audit.c.attempt.is_(None))
            .where(audit.c.recipient.in_(DELIVERED_TO))
        ).all()
        events = conn.execute(
            select(audit.c.event_id).where(audit.c.event_type == "address.changed").distinct()
        ).scalars()
        seen = {(e, r): (o, c) for e, r, o, c in audited}
        gaps = [
            (e, r, *seen.get((e, r), ("", "")))
            for e in sorted(events)
            for r in DELIVERED_TO
            if (e, r) not in held
        ]
    engine.dispose()
    return gaps[:most]


def wait_all_delivered(url: str, events: int, workers: list[WorkerProcess], timeout: float) -> None:
    want = (len(DELIVERED_TO) * events, len(DELIVERED_TO) * events)

    def all_there() -> bool:
        for w in workers:
            assert w.proc is not None and w.proc.poll() is None, (
                "a worker exited:\n" + w.log_file.read_text()[-3000:]
            )
        seen = counts(url)
        return seen[:2] == want and seen[3] == OUTCOMES_PER_MOVE * events

    wait_for(
        all_there,
        lambda: f"{counts(url)}, want {want}; not in an inbox: {missing(url)}",
        timeout,
        every=0.2,
    )
    inbox_rows, inbox_distinct, audit_rows, audit_distinct = counts(url)
    assert inbox_rows == inbox_distinct == len(DELIVERED_TO) * events  # each exactly once
    assert audit_rows == audit_distinct == OUTCOMES_PER_MOVE * events


async def link_people(publisher: EventPublisher, url: str) -> None:
    """Every person linked to every system, recorded before the moves are published: the
    router decides a move with the links recorded when it routes it, and a move routed before
    its person's link to a system is withheld from that system (no local record), rightly."""
    await publisher.publish_many([e for p in PEOPLE for e in link_events(p)])
    engine = make_engine(url)
    try:
        await wait_for_async(
            lambda: links_recorded(engine) >= len(PEOPLE) * len(RECIPIENTS),
            lambda: f"every link; {links_recorded(engine)} recorded",
            60,
            every=0.1,
        )
    finally:
        engine.dispose()


def moves(tag: str, n: int) -> list:  # type: ignore[type-arg]
    return [move(f"evt-{tag}-{i}", PEOPLE[i % len(PEOPLE)], i) for i in range(n)]


def migrated(settings: HubSettings) -> None:
    reset_schema(settings.effective_database_url)
    open_stores(settings, schema="create").engine.dispose()


def worker_log_has(worker: WorkerProcess, text: str) -> bool:
    return text in worker.log_file.read_text()


async def test_a_postgresql_outage_is_waited_out_and_every_event_delivered_once(
    hub_settings: HubSettings, publisher: EventPublisher, own_postgres: PgServer, tmp_path: Path
) -> None:
    settings = hub_settings.model_copy(update={"database_url": own_postgres.url, **QUICK})
    migrated(settings)
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    worker.start()
    try:
        await link_people(publisher, settings.effective_database_url)
        events = moves("pg", 400)
        await publisher.publish_many(events[:200])
        wait_for(lambda: counts(settings.database_url)[0] > 0, "deliveries flowing", 60)
        own_postgres.stop()
        outage_started = time.monotonic()
        await publisher.publish_many(events[200:])  # Kafka takes them while the database is down
        while time.monotonic() - outage_started < 10:  # the old worker died 2 s in
            assert worker.proc is not None and worker.proc.poll() is None, (
                worker.log_file.read_text()[-3000:]
            )
            time.sleep(0.2)
        assert worker_log_has(worker, "retrying")  # it noticed, and said so
        own_postgres.start()
        restarted = time.monotonic()
        wait_all_delivered(settings.database_url, len(events), [worker], timeout=120)
        print(f"caught up {time.monotonic() - restarted:.1f}s after PostgreSQL came back")
    finally:
        if worker.proc and worker.proc.poll() is None:
            assert worker.stop() == 0


async def test_a_sqlite_lock_longer_than_the_busy_timeout_is_waited_out(
    hub_settings: HubSettings, publisher: EventPublisher, tmp_path: Path
) -> None:
    settings = hub_settings.model_copy(update={"db_busy_timeout_s": 1.0, **QUICK})
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    worker.start()
    try:
        await link_people(publisher, settings.effective_database_url)
        events = moves("lock", 300)
        await publisher.publish_many(events[:100])
        url = settings.effective_database_url
        wait_for(lambda: counts(url)[0] > 0, "deliveries flowing", 60)
        # Another process (a backup, an operator's sqlite3 shell) takes the write lock.
        lock = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        locked_at = time.monotonic()
        try:
            await publisher.publish_many(events[100:])
            while time.monotonic() - locked_at < 8:  # 8 busy timeouts and more
                assert worker.proc is not None and worker.proc.poll() is None, (
                    worker.log_file.read_text()[-3000:]
                )
                time.sleep(0.2)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert worker_log_has(worker, "retrying")
        wait_all_delivered(url, len(events), [worker], timeout=120)
    finally:
        if worker.proc and worker.proc.poll() is None:
            assert worker.stop() == 0


@pytest.mark.timeout(300)  # four worker processes starting: slow on a loaded 2-core machine
async def test_survivors_of_a_sigkilled_worker_ride_out_the_rebalance(
    hub_settings: HubSettings, publisher: EventPublisher, postgres_url: str, tmp_path: Path
) -> None:
    """Three workers on PostgreSQL under load: a fourth joins while one hangs and is then
    SIGKILLed. The group rebalances and waits for the hung member's session to time out; the
    others' commits in that window are refused (CommitFailedError). They must not exit, and
    every event is delivered exactly once."""
    settings = hub_settings.model_copy(
        update={
            "database_url": postgres_url,
            "agent_batch_size": 50,
            # what a rebalance leaves unfinished the reconciler re-publishes: soon, in a test
            "reconcile_grace_s": 5,
            "reconcile_interval_s": 1,
            **QUICK,
        }
    )
    migrated(settings)
    workers = [WorkerProcess(settings, tmp_path / f"worker-{i}.log") for i in range(4)]
    victim, survivors = workers[0], workers[1:]
    starting = [threading.Thread(target=w.start) for w in workers[:3]]
    for t in starting:
        t.start()
    for t in starting:
        t.join()
    with contextlib.ExitStack() as stack:
        for w in workers:
            stack.callback(lambda w=w: w.proc is not None and w.proc.poll() is None and w.stop())
        await link_people(publisher, settings.effective_database_url)
        events = moves("kill", 100)
        await publisher.publish_many(events)
        killed_at: list[float] = []

        async def keep_publishing() -> None:
            """20 events a second from now until the rebalance is over (the kill + 10 s)."""
            while not killed_at or time.monotonic() - killed_at[0] < 10:
                more = moves("kill", len(events) + 5)[len(events) :]
                await publisher.publish_many(more)
                events.extend(more)
                await asyncio.sleep(0.25)

        flow = asyncio.create_task(keep_publishing())
        stack.callback(flow.cancel)
        await asyncio.to_thread(workers[3].start)  # returns at once: the others are ready
        await wait_for_async(  # joining: the group rebalances
            lambda: worker_log_has(workers[3], "agent_started"),
            lambda: workers[3].log_file.read_text()[-3000:],
            90,
            every=0.05,
        )
        assert counts(postgres_url)[0] > 0  # events are flowing
        assert victim.proc is not None
        # It hangs first (the group waits for it until its session times out, commits in that
        # window are refused), then it is killed.
        victim.proc.send_signal(signal.SIGSTOP)
        await asyncio.sleep(settings.broker_session_timeout_s + 2)
        victim.proc.kill()
        victim.proc.wait()
        killed_at.append(time.monotonic())
        while not flow.done():
            for w in survivors:
                assert w.proc is not None and w.proc.poll() is None, w.log_file.read_text()[-3000:]
            await asyncio.sleep(0.2)
        await flow
        await asyncio.to_thread(wait_all_delivered, postgres_url, len(events), survivors, 180)
        skipped = sum(w.log_file.read_text().count("batch_commit_skipped") for w in survivors)
        print(f"commits skipped after a rebalance: {skipped}")
