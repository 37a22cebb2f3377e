"""The audit and inbox stores on real SQLite and real PostgreSQL, through the real migrations."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, inspect, text

from hub.audit.store import AuditFilter, AuditStore
from hub.db.engine import migrate
from hub.heartbeat import HeartbeatStore
from hub.inbox.store import AckBeyondHandedOut, InboxStore
from hub.routing.messages import (
    AuditEntry,
    AuditReason,
    Delivery,
    Outcome,
    delivered_entry,
    delivery_id,
)

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    return migrated_engine


def _delivery(event_id: str, recipient: str) -> Delivery:
    return Delivery(
        delivery_id=delivery_id(event_id, recipient, source="council-tax"),
        event_id=event_id,
        event_type="address.changed",
        source="council-tax",
        subject="P-1",
        subject_key="k" * 32,
        recipient=recipient,
        local_id=None,
        event_time=NOW,
        agreement_id="DSA-001",
        agreement_version="abc123",
        lawful_basis="Art. 6(1)(e)",
        purpose="bins",
        fields=("new_address.postcode",),
        data={"new_address": {"postcode": "EX4 7QT"}},
        decided_at=NOW,
    )


def test_migrations_create_the_schema_and_are_idempotent(engine: Engine) -> None:
    migrate(engine)  # a second run is a no-op
    tables = set(inspect(engine).get_table_names())
    assert {"audit_record", "inbox_item", "worker_heartbeat", "alembic_version"} <= tables


def test_audit_write_is_idempotent_and_holds_no_values(engine: Engine) -> None:
    store = AuditStore(engine)
    delivered = delivered_entry(_delivery("e1", "waste"), NOW)
    withheld = AuditEntry(
        entry_id=AuditEntry.make_id(
            delivery_id("e1", "libraries", source="council-tax"), Outcome.WITHHELD
        ),
        delivery_id=delivery_id("e1", "libraries", source="council-tax"),
        event_id="e1",
        event_type="address.changed",
        source="council-tax",
        recipient="libraries",
        subject_key="k" * 32,
        outcome=Outcome.WITHHELD,
        reasons=(AuditReason(code="no_agreement", message="no agreement lets ..."),),
        event_time=NOW,
        decided_at=NOW,
    )
    assert store.write([delivered, withheld], NOW) == 2
    assert store.write([delivered, withheld], NOW + timedelta(seconds=1)) == 0  # redelivered
    rows = store.query(AuditFilter(event_ids=("e1",)))
    assert [(r.recipient, r.outcome) for r in rows] == [
        ("waste", "delivered"),
        ("libraries", "withheld"),
    ]
    assert rows[0].fields == ("new_address.postcode",)
    assert rows[0].recorded_at == NOW and rows[0].recorded_at.tzinfo is not None
    assert rows[1].reason_codes == ("no_agreement",)
    with engine.connect() as conn:
        dump = json.dumps(
            [list(r) for r in conn.execute(text("SELECT * FROM audit_record"))], default=str
        )
    assert "EX4 7QT" not in dump and "P-1" not in dump


def test_audit_query_filters(engine: Engine) -> None:
    store = AuditStore(engine)
    store.write(
        [
            delivered_entry(_delivery(f"e{i}", r), NOW)
            for i in range(3)
            for r in ("waste", "parking")
        ],
        NOW,
    )
    assert len(store.query(AuditFilter(recipient="parking"))) == 3
    assert len(store.query(AuditFilter(outcome="withheld"))) == 0
    first_two = store.query(AuditFilter(limit=2))
    assert len(first_two) == 2
    rest = store.query(AuditFilter(after_seq=first_two[-1].seq))
    assert len(rest) == 4
    assert store.count() == 6


def test_inbox_is_per_recipient_idempotent_and_acknowledged(engine: Engine) -> None:
    inbox = InboxStore(engine)
    batch = [_delivery("e1", "waste"), _delivery("e2", "waste"), _delivery("e1", "parking")]
    assert inbox.add(batch, NOW) == 3
    assert inbox.add(batch, NOW) == 0  # redelivered: not stored twice
    waste = inbox.fetch("waste", after=0, limit=10)
    assert [e.delivery.event_id for e in waste] == ["e1", "e2"]
    assert all(e.delivery.recipient == "waste" for e in waste)
    assert [e.delivery.event_id for e in inbox.fetch("waste", after=waste[0].cursor, limit=10)] == [
        "e2"
    ]
    assert inbox.ack("waste", waste[0].cursor, NOW) == 1
    assert [e.delivery.event_id for e in inbox.fetch("waste", after=0, limit=10)] == ["e2"]
    assert (
        inbox.pending("parking") == 1
    )  # another recipient's acknowledgement touches nothing of parking's
    [parked] = inbox.fetch("parking", after=0, limit=10)
    with pytest.raises(AckBeyondHandedOut, match=f"handed out to 'parking' is {parked.cursor}"):
        inbox.ack("parking", 10_000, NOW)  # beyond what parking has read: acknowledges nothing
    assert inbox.pending("parking") == 1
    assert inbox.ack("parking", parked.cursor, NOW) == 1
    assert inbox.fetch("parking", after=0, limit=10) == []


def test_heartbeat_readiness(engine: Engine) -> None:
    beats = HeartbeatStore(engine)
    assert beats.ready_workers(NOW, timedelta(seconds=10)) == 0
    beats.beat("w1", 1, NOW, NOW, assigned=0)
    assert beats.ready_workers(NOW, timedelta(seconds=10)) == 0  # alive but holding no partitions
    beats.beat("w1", 1, NOW, NOW, assigned=3)
    assert beats.ready_workers(NOW, timedelta(seconds=10)) == 1
    assert beats.ready_workers(NOW + timedelta(seconds=30), timedelta(seconds=10)) == 0


def test_rejected_store_keeps_records_whole_once(engine: Engine) -> None:
    from hub.rejected.store import RejectedStore, Rejection

    store = RejectedStore(engine)
    rejection = Rejection(
        rejected_at=NOW,
        source="registrar",
        event_id="e9",
        event_type="death.notified",
        original_topic="events.death.notified",
        original_partition=2,
        original_offset=41,
        key=b"P-9",
        value=b"\x00\x00\x00\x00\x04\xff\x00binary",
        headers=[("ce_id", b"e9"), ("odd", b"\xff\xfe")],
        reason="date of death is in the future",
        rules=("not_in_future",),
    )
    assert store.add([rejection]) == 1
    assert store.add([rejection]) == 0  # redelivered from events.rejected: stored once
    (stored,) = store.list()
    assert stored.value == rejection.value and stored.headers == rejection.headers
    assert stored.key == b"P-9" and stored.rules == ("not_in_future",)
    store.mark_replayed(stored.seq, NOW, "e9")
    assert store.get(stored.seq).status == "replayed"  # type: ignore[union-attr]
    assert store.list(status="rejected") == []


def test_quality_counters_add_up_per_key(engine: Engine) -> None:
    from hub.quality.counters import QualityCounters, Tally

    counters = QualityCounters(engine)
    day = NOW.date()
    counters.add([Tally(day, "registrar", "death.notified", "accepted")] * 3)
    counters.add(
        [
            Tally(day, "registrar", "death.notified", "accepted"),
            Tally(day, "registrar", "death.notified", "rejected", "not_in_future"),
            Tally(
                day - timedelta(days=3), "registrar", "death.notified", "rejected", "not_in_future"
            ),
        ]
    )
    rows = {(r.outcome, r.rule): r.count for r in counters.summary()}
    assert rows == {("accepted", ""): 4, ("rejected", "not_in_future"): 2}
    recent = {(r.outcome, r.rule): r.count for r in counters.summary(since=day)}
    assert recent == {("accepted", ""): 4, ("rejected", "not_in_future"): 1}
    assert counters.summary(source="council-tax") == []
