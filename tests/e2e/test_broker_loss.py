"""Accepted means delivered: events accepted (202) survive the loss of the embedded broker."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from hub.db.engine import make_engine
from hub.db.tables import InboxItem
from tests.e2e.conftest import start_hub, wait_children_gone
from tests.people import RECIPIENTS, post_links
from tests.waiting import wait_for

PEOPLE = [f"P-{i:03d}" for i in range(20)]
EVENTS = 300


@pytest.fixture
def quick_reconcile(hub_env: dict[str, str]) -> Iterator[dict[str, str]]:
    yield {**hub_env, "HUB_RECONCILE_GRACE_S": "3", "HUB_RECONCILE_INTERVAL_S": "1"}


def inbox_counts(env: dict[str, str]) -> dict[str, tuple[int, int]]:
    engine = make_engine(f"sqlite:///{Path(env['HUB_DATA_DIR']) / 'hub.db'}")
    table = InboxItem.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                table.c.recipient, func.count(), func.count(func.distinct(table.c.event_id))
            ).group_by(table.c.recipient)
        ).all()
    engine.dispose()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def freeze_between_writes(pid: int, database: Path) -> None:
    """SIGSTOP the worker at a moment it holds no SQLite write lock. Frozen inside a write, it
    would hold the lock for ever, and every accepted event's journal write would wait behind it
    (the busy timeout, 30 s) until the client gave up: that was the test's race, not the hub's."""
    deadline = time.monotonic() + 30
    while True:
        os.kill(pid, signal.SIGSTOP)
        probe = sqlite3.connect(database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")  # fails at once if any writer holds the lock
            probe.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:
            os.kill(pid, signal.SIGCONT)  # caught mid-write: let it finish, then try again
        finally:
            probe.close()
        assert time.monotonic() < deadline, "the database was never free of writers"
        time.sleep(0.05)


def test_events_accepted_before_the_whole_stack_is_killed_are_all_delivered_after_restart(
    quick_reconcile: dict[str, str],
) -> None:
    env = quick_reconcile
    first = start_hub(env, subprocess.DEVNULL)
    for person in PEOPLE:
        post_links(first.url, person)
    # The worker is frozen: the events are accepted (acknowledged by the broker, 202) but none
    # is routed before the broker dies with everything it held in memory.
    [worker] = [p for p in first.children if b"worker" in Path(f"/proc/{p}/cmdline").read_bytes()]
    freeze_between_writes(worker, Path(env["HUB_DATA_DIR"]) / "hub.db")
    accepted = []
    with httpx.Client(base_url=first.url, timeout=10) as client:
        for i in range(EVENTS):
            response = client.post(
                "/v1/events",
                json={
                    "id": f"death-{i}",
                    "type": "death.notified",
                    "subject": PEOPLE[i % len(PEOPLE)],
                    "data": {"date_of_death": "2026-11-18", "verified_by": "registrar"},
                },
                headers={"Authorization": "Bearer demo-registrar-key"},
            )
            assert response.status_code == 202, response.text
            accepted.append(response.json()["id"])
    # The moment the last 202 is back: kill everything, broker (memory storage) included.
    os.kill(worker, signal.SIGKILL)  # stopped: it would not act on its parent-death signal
    os.killpg(first.proc.pid, signal.SIGKILL)
    first.proc.wait(10)
    wait_children_gone(first.children)
    assert all(inbox_counts(env).get(r, (0, 0))[0] == 0 for r in RECIPIENTS)  # all were lost

    second = start_hub(env, subprocess.DEVNULL)  # a fresh, empty broker; the same database
    try:
        wait_for(
            lambda: all(inbox_counts(env).get(r, (0, 0))[1] == EVENTS for r in RECIPIENTS),
            lambda: f"every event after the restart: {inbox_counts(env)}",
            120,
            every=0.5,
        )
        # every accepted event reached every entitled recipient, each exactly once
        assert inbox_counts(env) == {r: (EVENTS, EVENTS) for r in RECIPIENTS}
    finally:
        second.proc.send_signal(signal.SIGINT)
        second.proc.wait(60)
