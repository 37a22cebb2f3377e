"""Retention on real SQLite and PostgreSQL: what each purge removes, and what it must keep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from agents.retention import RetentionTask, attach_retention
from hub.audit.store import AuditStore
from hub.db.tables import InboxItem, WebhookOutbox
from hub.inbox.store import InboxStore
from hub.journal.store import JournalStore
from hub.policy.state import ConsentAction
from hub.rejected.quarantine import QuarantineStore
from hub.rejected.store import RejectedStore, Rejection
from hub.retention import RetentionPolicy, purge
from hub.review.store import ReviewStore
from hub.routing.messages import Outcome
from hub.settings import HubSettings
from hub.subjects.changes import ConsentChange, DeathChange, LinkChange
from hub.subjects.store import SubjectChanges, SubjectStore
from hub.timeutil import utcnow

from .test_journal import GRACE, accepted, final
from .test_quarantine_store import refused
from .test_stores import _delivery
from .test_subject_store import review

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = RetentionPolicy(
    journal_days=30,
    inbox_days=30,
    rejected_days=90,
    deceased_days=2557,
    webhook_days=30,
    review_days=90,
)
LONG_AGO = NOW - timedelta(days=400)
RECENTLY = NOW - timedelta(days=2)


def counts(engine: Engine, dry_run: bool = False, now: datetime = NOW) -> dict[str, int]:
    return {p.store: p.count for p in purge(engine, POLICY, now, dry_run)}


def test_the_journal_purges_only_events_whose_outcomes_are_final(migrated_engine: Engine) -> None:
    journal = JournalStore(migrated_engine)
    for event_id in ("old-complete", "old-waiting", "old-never-routed", "new-complete"):
        journal.record([accepted(event_id)], at=LONG_AGO)
    journal.mark_routed(
        {("registrar", "old-complete"): 0, ("registrar", "old-waiting"): 2}, LONG_AGO
    )
    journal.mark_routed({("registrar", "new-complete"): 0}, RECENTLY)
    AuditStore(migrated_engine).write([final("old-waiting", "waste")], LONG_AGO)  # 1 of 2

    assert counts(migrated_engine, dry_run=True)["journal"] == 1
    assert len(journal.accepted_since(LONG_AGO)) == 4  # a dry run changes nothing
    assert counts(migrated_engine)["journal"] == 1
    left = {e.event_id: e.status for e in journal.accepted_since(LONG_AGO)}
    assert left == {
        "old-waiting": "routed",
        "old-never-routed": "accepted",
        "new-complete": "complete",
    }

    # the reconciler still finds what it must re-publish, whatever its age
    assert [e.event_id for e in journal.due(NOW, GRACE)] == ["old-waiting", "old-never-routed"]

    # the last outcome arrives: complete from now, purged a retention period later
    AuditStore(migrated_engine).write([final("old-waiting", "libraries", Outcome.WITHHELD)], NOW)
    assert [e.event_id for e in journal.due(NOW, GRACE)] == ["old-never-routed"]
    assert counts(migrated_engine)["journal"] == 0
    assert counts(migrated_engine, now=NOW + timedelta(days=31))["journal"] == 2
    assert [e.event_id for e in journal.accepted_since(LONG_AGO)] == ["old-never-routed"]


def test_the_inbox_erases_acknowledged_values_and_still_knows_the_delivery(
    migrated_engine: Engine,
) -> None:
    inbox = InboxStore(migrated_engine)
    inbox.add([_delivery("e1", "waste"), _delivery("e2", "waste")], LONG_AGO)
    inbox.add([_delivery("e3", "waste")], LONG_AGO)
    first, second, _ = inbox.fetch("waste", 0, 10)
    inbox.ack("waste", first.cursor, LONG_AGO)  # acknowledged long ago
    inbox.ack("waste", second.cursor, RECENTLY)  # acknowledged recently; e3 never

    assert counts(migrated_engine, dry_run=True)["inbox"] == 1
    assert counts(migrated_engine)["inbox"] == 1
    assert counts(migrated_engine)["inbox"] == 0  # nothing left to erase
    with migrated_engine.connect() as conn:
        payloads = dict(
            conn.execute(select(InboxItem.event_id, InboxItem.payload)).all()  # type: ignore[call-overload]
        )
    assert payloads["e1"] == ""
    assert "EX4 7QT" in payloads["e2"] and "EX4 7QT" in payloads["e3"]
    assert [e.delivery.event_id for e in inbox.fetch("waste", 0, 10)] == ["e3"]
    # a redelivery of the erased delivery is recognised, not shown again
    assert inbox.add([_delivery("e1", "waste")], NOW) == 0
    assert [e.delivery.event_id for e in inbox.fetch("waste", 0, 10)] == ["e3"]


def rejection(offset: int, at: datetime) -> Rejection:
    return Rejection(
        rejected_at=at,
        source="registrar",
        event_id=f"r{offset}",
        event_type="death.notified",
        original_topic="events.death.notified",
        original_partition=0,
        original_offset=offset,
        key=b"P-9",
        value=b"\x00values",
        headers=[("ce_id", b"r")],
        reason="date of death is in the future",
        rules=("not_in_future",),
    )


def test_rejected_events_are_deleted_after_their_retention(migrated_engine: Engine) -> None:
    store = RejectedStore(migrated_engine)
    store.add([rejection(1, NOW - timedelta(days=91)), rejection(2, NOW - timedelta(days=89))])
    assert counts(migrated_engine, dry_run=True)["rejected"] == 1
    assert counts(migrated_engine)["rejected"] == 1
    assert [r.event_id for r in store.list()] == ["r2"]


def test_deceased_flags_go_but_consent_and_links_stay(migrated_engine: Engine) -> None:
    store = SubjectStore(migrated_engine, "a-test-pseudonym-secret-of-32-characters")
    ancient = NOW - timedelta(days=2558)
    store.record(
        SubjectChanges(
            consent=[ConsentChange("c-1", "P-1", ConsentAction.WITHDRAWN, "Care", None, ancient)],
            links=[LinkChange("l-1", "P-1", "waste", "W-1", ancient)],
            deaths=[DeathChange("d-1", "P-1", date(2019, 11, 1))],
        ),
        ancient,
    )
    store.record(SubjectChanges(deaths=[DeathChange("d-2", "P-2", date(2026, 11, 1))]), RECENTLY)
    assert counts(migrated_engine)["deceased"] == 1
    state = store.load(["P-1", "P-2"])
    assert state["P-1"].deceased_on is None
    assert [c.action for c in state["P-1"].consent] == [ConsentAction.WITHDRAWN]
    assert dict(state["P-1"].links) == {"waste": "W-1"}
    assert state["P-2"].deceased_on == date(2026, 11, 1)


def outbox_row(delivery_id: str, event_id: str, status: str, at: datetime) -> dict[str, object]:
    return {
        "delivery_id": delivery_id,
        "recipient": "waste",
        "subject_key": "k",
        "event_id": event_id,
        "event_type": "death.notified",
        "payload": '{"data": {"informant": "values"}}',
        "status": status,
        "attempts": 1,
        "attempt_base": 0,
        "next_attempt_at": at,
        "created_at": at,
        "updated_at": at,
        "last_error": "",
    }


def test_settled_webhook_deliveries_go_once_their_event_is_complete(
    migrated_engine: Engine,
) -> None:
    journal = JournalStore(migrated_engine)
    journal.record([accepted("done"), accepted("open")], at=LONG_AGO)
    journal.mark_routed({("registrar", "done"): 0, ("registrar", "open"): 3}, LONG_AGO)
    rows = [
        outbox_row("d1", "done", "delivered", LONG_AGO),
        outbox_row("d2", "done", "withheld", LONG_AGO),
        outbox_row("d3", "done", "dead", LONG_AGO),  # a dead letter: kept for redrive
        outbox_row("d4", "done", "pending", LONG_AGO),  # still being retried
        outbox_row("d5", "done", "delivered", RECENTLY),
        outbox_row("o1", "open", "delivered", LONG_AGO),  # its event still counts on it
    ]
    with migrated_engine.begin() as conn:
        conn.execute(WebhookOutbox.__table__.insert(), rows)  # type: ignore[attr-defined]
    assert counts(migrated_engine, dry_run=True)["webhook"] == 2
    assert counts(migrated_engine)["webhook"] == 2
    with migrated_engine.connect() as conn:
        left = conn.execute(select(WebhookOutbox.delivery_id)).scalars().all()  # type: ignore[call-overload]
    assert sorted(left) == ["d3", "d4", "d5", "o1"]


def test_resolved_review_items_go_open_ones_stay(migrated_engine: Engine) -> None:
    store = ReviewStore(migrated_engine)
    store.add([review("e-1"), review("e-2", "k2"), review("e-3", "k3")])
    first, second, _ = store.find()
    store.mark_released([first.seq], NOW - timedelta(days=91))
    store.mark_released([second.seq], NOW - timedelta(days=89))
    assert counts(migrated_engine)["review"] == 1
    assert sorted(i.event_id for i in store.find()) == ["e-3"]
    assert counts(migrated_engine, now=NOW + timedelta(days=2))["review"] == 1


def hub(*args: str, database_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """The `hub` command as a user runs it (its own process: its logging is its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_DATABASE_URL": database_url, "HUB_DATA_DIR": str(data_dir)})
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_hub_retention_purge_prints_counts_per_store(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    now = utcnow()
    JournalStore(migrated_engine).record([accepted("done"), accepted("open")], at=now)
    JournalStore(migrated_engine).mark_routed({("registrar", "done"): 0}, now - timedelta(days=31))
    RejectedStore(migrated_engine).add([rejection(1, now - timedelta(days=91))])
    url = migrated_engine.url.render_as_string(hide_password=False)
    expected = {
        "journal": 1,
        "inbox": 0,
        "webhook": 0,
        "rejected": 1,
        "quarantine": 0,
        "review": 0,
        "deceased": 0,
        "service_record": 0,
    }

    table = hub("retention", "purge", "--dry-run", database_url=url, data_dir=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "would purge: 2 in all" in table.stdout
    for dry_run in (True, False):
        args = ["retention", "purge", "--json", *(["--dry-run"] if dry_run else [])]
        result = hub(*args, database_url=url, data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        key = "would_purge" if dry_run else "purged"
        assert {r["store"]: r[key] for r in lines} == expected
        left = {
            e.event_id for e in JournalStore(migrated_engine).accepted_since(now - timedelta(1))
        }
        assert left == ({"done", "open"} if dry_run else {"open"})


async def test_the_worker_task_purges_with_the_settings(
    migrated_engine: Engine, settings: HubSettings
) -> None:
    RejectedStore(migrated_engine).add(
        [rejection(1, utcnow() - timedelta(days=8)), rejection(2, utcnow())]
    )
    task = RetentionTask(
        migrated_engine, settings.model_copy(update={"retention_rejected_days": 7})
    )
    results = {r.store: r.count for r in await task.run_once()}
    assert results["rejected"] == 1
    assert [r.event_id for r in RejectedStore(migrated_engine).list()] == ["r2"]

    class App:
        tasks: list[object] = []

        def task(self, fn: object) -> object:
            self.tasks.append(fn)
            return fn

    attach_retention(App(), task)
    assert len(App.tasks) == 1
    off = RetentionTask(migrated_engine, settings.model_copy(update={"retention_interval_s": 0}))
    attach_retention(App(), off)
    assert len(App.tasks) == 1  # 0: the worker never purges (cron runs the command)


def test_quarantined_records_go_with_the_rejected_ones(migrated_engine: Engine) -> None:
    """A record refused on an internal topic is kept whole (it may hold personal values) for as
    long as a rejected event, no longer."""
    store = QuarantineStore(migrated_engine)
    old = refused(1).model_copy(update={"quarantined_at": LONG_AGO})
    new = refused(2).model_copy(update={"quarantined_at": RECENTLY})
    assert store.add([old, new]) == 2
    policy = RetentionPolicy(rejected_days=90)
    dry = {p.store: p.count for p in purge(migrated_engine, policy, NOW, dry_run=True)}
    assert dry["quarantine"] == 1 and len(store.list()) == 2
    done = {p.store: p.count for p in purge(migrated_engine, policy, NOW)}
    assert done["quarantine"] == 1
    assert [q.offset for q in store.list()] == [2]
