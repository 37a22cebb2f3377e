"""The ingest journal on real SQLite and PostgreSQL: what is due for re-publishing, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from hub.audit.store import AuditStore
from hub.db.tables import IngestJournal
from hub.events.publisher import Accepted
from hub.journal.store import JournalStore
from hub.routing.messages import AuditEntry, Outcome

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
GRACE = timedelta(seconds=30)


def accepted(event_id: str) -> Accepted:
    return Accepted(
        event_id,
        "death.notified",
        "registrar",
        "events.death.notified",
        b"P-1",
        b"\x00avro",
        (("ce_id", event_id.encode()),),
    )


def final(event_id: str, recipient: str, outcome: Outcome = Outcome.DELIVERED) -> AuditEntry:
    return AuditEntry(
        entry_id=f"{event_id}-{recipient}:{outcome.value}",
        delivery_id=f"{event_id}-{recipient}",
        event_id=event_id,
        event_type="death.notified",
        source="registrar",
        recipient=recipient,
        subject_key="k",
        outcome=outcome,
        event_time=T0,
        decided_at=T0,
    )


def test_lost_events_are_due_after_the_grace_period_and_complete_ones_never(
    migrated_engine: Engine,
) -> None:
    journal = JournalStore(migrated_engine)
    for event_id in ("never-routed", "half-done", "all-done", "nothing-to-do"):
        journal.record([accepted(event_id)], at=T0)
    journal.record([accepted("never-routed")], at=T0 + timedelta(minutes=5))  # a retry: kept once
    journal.mark_routed(
        {
            ("registrar", "half-done"): 2,
            ("registrar", "all-done"): 2,
            ("registrar", "nothing-to-do"): 0,
        },
        T0,
    )
    AuditStore(migrated_engine).write(
        [
            final("half-done", "waste"),
            final("all-done", "waste"),
            final("all-done", "libraries", Outcome.WITHHELD),
        ],
        T0,
    )
    assert journal.due(T0 + timedelta(seconds=10), GRACE) == []  # still within grace
    due = journal.due(T0 + GRACE, GRACE)
    assert [e.event_id for e in due] == ["never-routed", "half-done"]
    assert due[0].value == b"\x00avro" and due[0].headers == [("ce_id", b"never-routed")]
    assert journal.counts() == {"accepted": 1, "routed": 1, "complete": 2}

    journal.mark_republished(
        [("registrar", "never-routed"), ("registrar", "half-done")], T0 + GRACE
    )
    assert journal.due(T0 + GRACE + timedelta(seconds=45), GRACE) == []  # backing off: 2 x grace
    again = journal.due(T0 + GRACE + timedelta(seconds=60), GRACE)
    assert [e.event_id for e in again] == ["never-routed", "half-done"]

    AuditStore(migrated_engine).write([final("half-done", "libraries", Outcome.FAILED)], T0)
    assert [e.event_id for e in journal.due(T0 + timedelta(hours=1), GRACE)] == ["never-routed"]


def test_replay_reads_what_was_accepted_since_a_time(migrated_engine: Engine) -> None:
    journal = JournalStore(migrated_engine)
    journal.record([accepted("old")], at=T0)
    journal.record([accepted("new")], at=T0 + timedelta(days=2))
    assert [e.event_id for e in journal.accepted_since(T0 + timedelta(days=1))] == ["new"]
    assert journal.accepted_since(T0, event_type="address.changed") == []


def test_a_delivery_waiting_in_a_webhook_outbox_counts_as_handed_over(
    migrated_engine: Engine,
) -> None:
    from hub.db.tables import WebhookOutbox

    journal = JournalStore(migrated_engine)
    journal.record([accepted("to-webhook")], at=T0)
    journal.mark_routed({("registrar", "to-webhook"): 2}, T0)
    AuditStore(migrated_engine).write([final("to-webhook", "libraries", Outcome.WITHHELD)], T0)
    assert [e.event_id for e in journal.due(T0 + GRACE, GRACE)] == ["to-webhook"]
    with migrated_engine.begin() as conn:
        conn.execute(
            WebhookOutbox.__table__.insert(),  # type: ignore[attr-defined]
            {
                "delivery_id": "dlv-1",
                "recipient": "waste",
                "subject_key": "k",
                "event_id": "to-webhook",
                "event_type": "death.notified",
                "payload": "{}",
                "status": "pending",
                "attempts": 3,
                "attempt_base": 0,
                "next_attempt_at": T0 + timedelta(hours=1),
                "created_at": T0,
                "updated_at": T0,
                "last_error": "",
            },
        )
    assert journal.due(T0 + timedelta(hours=2), GRACE) == []  # retried by the dispatcher, not us
    assert journal.counts() == {"complete": 1}


def test_marking_routed_stores_counts_and_times_and_leaves_complete_events_alone(
    migrated_engine: Engine,
) -> None:
    journal = JournalStore(migrated_engine)
    for event_id in ("two", "none", "done-before", "not-journaled-here"):
        journal.record([accepted(event_id)], at=T0)
    journal.mark_routed({("registrar", "done-before"): 0}, T0)
    later = T0 + timedelta(minutes=3, microseconds=123456)
    journal.mark_routed(
        {
            ("registrar", "two"): 2,
            ("registrar", "none"): 0,
            ("registrar", "done-before"): 4,  # complete already: kept as it was
            ("registrar", "never-seen"): 1,  # not in the journal (a Kafka-native event)
        },
        later,
    )
    table = IngestJournal.__table__  # type: ignore[attr-defined]
    with migrated_engine.connect() as conn:
        rows = {
            r.event_id: r
            for r in conn.execute(
                select(
                    table.c.event_id,
                    table.c.status,
                    table.c.expected,
                    table.c.routed_at,
                    table.c.completed_at,
                )
            )
        }
    naive = later.replace(tzinfo=None)

    def moment(value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    assert set(rows) == {"two", "none", "done-before", "not-journaled-here"}
    two, none, done = rows["two"], rows["none"], rows["done-before"]
    assert (two.status, two.expected, moment(two.routed_at), two.completed_at) == (
        "routed",
        2,
        naive,
        None,
    )
    assert (none.status, none.expected, moment(none.routed_at), moment(none.completed_at)) == (
        "complete",
        0,
        naive,
        naive,
    )
    assert (done.status, done.expected, moment(done.completed_at)) == (
        "complete",
        0,
        T0.replace(tzinfo=None),
    )
    assert rows["not-journaled-here"].status == "accepted"
