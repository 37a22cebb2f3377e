"""The webhook outbox on SQLite and PostgreSQL: idempotent queueing, per-person order, retry,
dead letters, requeue, replay, endpoint state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from hub.delivery.outbox import OutboxStatus, OutboxStore
from hub.routing.messages import Delivery, Mode, delivery_id

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    return migrated_engine


def dlv(event: str, subject: str, mode: Mode = Mode.LIVE) -> Delivery:
    return Delivery(
        delivery_id=delivery_id(event, "waste", source="council-tax"),
        event_id=event,
        event_type="address.changed",
        source="council-tax",
        subject=subject,
        subject_key=f"key-{subject}",
        recipient="waste",
        local_id=None,
        event_time=NOW,
        agreement_id="DSA-001",
        agreement_version="v",
        lawful_basis="b",
        purpose="p",
        fields=("effective_date",),
        data={"effective_date": "2026-11-20"},
        decided_at=NOW,
        mode=mode,
    )


def test_a_row_one_worker_took_is_not_taken_by_another_until_released_or_lapsed(
    engine: Engine,
) -> None:
    """Two workers' loops take due rows at the same moment: each row goes to one of them; a
    person's later row stays behind the held one; released, or once the hold lapses, due again."""
    outbox = OutboxStore(engine)
    outbox.add([dlv("e1", "A"), dlv("e2", "A"), dlv("e3", "B"), dlv("e4", "C")], NOW)
    hold = NOW + timedelta(seconds=30)
    first = outbox.take_due("waste", NOW, 2, frozenset(), hold)
    second = outbox.take_due("waste", NOW, 10, frozenset(), hold + timedelta(microseconds=1))
    assert [r.event_id for r in first] == ["e1", "e3"]
    assert [r.event_id for r in second] == ["e4"]  # not e1, e3 (held), not e2 (behind e1)
    assert outbox.take_due("waste", NOW, 10, frozenset(), hold) == []
    outbox.release([first[1].seq], hold, NOW)  # e3 not sent: due again at once
    assert [r.event_id for r in outbox.due("waste", NOW, 10)] == ["e3"]
    outbox.release([second[0].seq], hold, NOW)  # not this hold's (another worker's): unchanged
    assert [r.event_id for r in outbox.due("waste", NOW, 10)] == ["e3"]
    # the worker holding e1 stopped: once its hold lapses, e1 is taken again (e4's hold, a
    # microsecond longer, has not lapsed yet)
    lapsed = outbox.take_due("waste", hold, 10, frozenset(), hold + timedelta(seconds=30))
    assert {r.event_id for r in lapsed} == {"e1", "e3"}


def test_queue_is_idempotent_and_due_keeps_per_person_order(engine: Engine) -> None:
    outbox = OutboxStore(engine)
    batch = [dlv("e1", "A"), dlv("e2", "A"), dlv("e3", "B")]
    assert outbox.add(batch, NOW) == 3
    assert outbox.add(batch, NOW) == 0
    due = outbox.due("waste", NOW, 10)
    assert [r.event_id for r in due] == ["e1", "e3"]  # only A's earliest
    assert [r.event_id for r in outbox.due("waste", NOW, 10, frozenset({"key-A"}))] == ["e3"]
    assert outbox.due("other", NOW, 10) == []

    # A's first retries later: A's second still waits behind it
    outbox.mark_retry(due[0].delivery_id, 1, 500, "http_500", NOW + timedelta(seconds=5), NOW)
    assert [r.event_id for r in outbox.due("waste", NOW, 10)] == ["e3"]
    later = outbox.due("waste", NOW + timedelta(seconds=6), 10)
    assert [r.event_id for r in later] == ["e1", "e3"] and later[0].attempts == 1

    outbox.mark_delivered(due[0].delivery_id, 2, 200, NOW)
    assert [r.event_id for r in outbox.due("waste", NOW, 10)] == ["e2", "e3"]


def test_dead_requeue_withheld_and_replay(engine: Engine) -> None:
    outbox = OutboxStore(engine)
    outbox.add([dlv("e1", "A"), dlv("e2", "B")], NOW)
    d1, d2 = (
        delivery_id("e1", "waste", source="council-tax"),
        delivery_id("e2", "waste", source="council-tax"),
    )
    outbox.mark_dead(d1, 3, 503, "http_503", NOW)
    outbox.mark_dead(d2, 3, None, "timeout", NOW)
    assert {r.delivery_id for r in outbox.dead()} == {d1, d2}
    assert outbox.dead("parking") == []
    assert outbox.due("waste", NOW, 10) == []

    assert outbox.requeue(d1, dlv("e1", "A", Mode.REDRIVE).model_dump_json(), 3, NOW)
    assert not outbox.requeue(d1, "{}", 3, NOW)  # no longer dead
    row = outbox.due("waste", NOW, 10)[0]
    assert row.attempt_base == 3 and row.delivery.mode is Mode.REDRIVE
    assert outbox.mark_withheld(d2, "redrive withheld: agreement_expired", NOW)
    assert [r.status for r in outbox.rows("waste")] == [OutboxStatus.PENDING, OutboxStatus.WITHHELD]

    outbox.mark_delivered(d1, 4, 200, NOW)
    outbox.add([dlv("e1", "A", Mode.REPLAY)], NOW)  # a replay sends a delivered one again
    again = outbox.due("waste", NOW, 10)
    assert [r.delivery_id for r in again] == [d1] and again[0].delivery.mode is Mode.REPLAY


def test_endpoint_disable_and_enable(engine: Engine) -> None:
    outbox = OutboxStore(engine)
    assert outbox.endpoint("waste").disabled_at is None
    outbox.set_endpoint("waste", NOW, "410 Gone", NOW)
    state = outbox.endpoint("waste")
    assert state.disabled_at == NOW and state.reason == "410 Gone"
    outbox.set_endpoint("waste", None, "", NOW)
    assert outbox.endpoint("waste").disabled_at is None
    outbox.add([dlv("e1", "A")], NOW)
    assert outbox.counts() == {("waste", "pending"): 1}
    assert outbox.oldest_pending_age("waste", NOW + timedelta(seconds=3)) == timedelta(seconds=3)
