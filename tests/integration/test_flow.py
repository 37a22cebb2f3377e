"""An event in on the real broker; the real faust agents route it; deliveries and audit rows out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub.audit.store import AuditRow
from hub.db.engine import make_engine
from hub.events.envelope import Envelope, Event
from hub.events.publisher import EventPublisher
from hub.inbox.store import InboxStore
from hub.settings import HubSettings
from runtime.wiring import Wiring
from tests.integration.conftest import WorkerProcess
from tests.people import link_events
from tests.waiting import wait_for_items

ADDRESS_SUBSCRIBERS = {"waste", "libraries", "parking", "adult-social-care", "electoral"}


def move(event_id: str, subject: str = "P-100234") -> Event:
    return Event(
        envelope=Envelope(
            id=event_id,
            source="council-tax",
            type="address.changed",
            subject=subject,
            time=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        ),
        data={
            "previous_address": {
                "uprn": "100023336956",
                "lines": ["2 Mill Lane"],
                "postcode": "EX1 2AB",
            },
            "new_address": {
                "uprn": "100023412345",
                "lines": ["7 Orchard Close"],
                "postcode": "EX4 7QT",
            },
            "effective_date": date(2026, 11, 20),
        },
    )


def death(event_id: str) -> Event:
    return Event(
        envelope=Envelope(
            id=event_id,
            source="registrar",
            type="death.notified",
            subject="P-100871",
            time=datetime(2026, 11, 19, 9, 0, tzinfo=UTC),
        ),
        data={"date_of_death": date(2026, 11, 18), "verified_by": "registrar"},
    )


@pytest.fixture(autouse=True)
async def people_linked(publisher: EventPublisher) -> None:
    """The people these tests talk about are known to every receiving system."""
    for subject in ("P-100234", "P-100871", "P-9"):
        await publisher.publish_many(link_events(subject))


def by_recipient(rows: list[AuditRow], event_id: str) -> dict[str, AuditRow]:
    return {r.recipient: r for r in rows if r.event_id == event_id}


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
async def test_address_change_and_death_are_routed_minimised_and_audited(
    worker: WorkerProcess,
    publisher: EventPublisher,
    hub_settings: HubSettings,
    wait_audit: Callable[..., list[AuditRow]],
) -> None:
    receipts = await publisher.publish_many([move("evt-move-1"), death("evt-death-1")])
    assert [r.event_id for r in receipts] == ["evt-move-1", "evt-death-1"]

    rows = wait_audit(["evt-move-1", "evt-death-1"], expected=10, settle=0.5)
    assert len(rows) == 10

    moved = by_recipient(rows, "evt-move-1")
    assert set(moved) == ADDRESS_SUBSCRIBERS
    assert moved["waste"].outcome == "delivered"
    assert moved["waste"].fields == ("effective_date", "new_address")
    assert moved["parking"].fields == ("effective_date", "new_address.postcode", "new_address.uprn")
    assert moved["electoral"].agreement_id == "DSA-002"
    assert moved["libraries"].outcome == "withheld"
    assert moved["libraries"].reason_codes == ("no_agreement",)
    assert moved["adult-social-care"].outcome == "withheld"
    assert moved["adult-social-care"].reason_codes == ("no_consent",)

    died = by_recipient(rows, "evt-death-1")
    assert {r.outcome for r in died.values()} == {"delivered"}
    assert died["electoral"].fields == ("date_of_death", "verified_by")
    assert died["waste"].fields == ("date_of_death",)

    inbox = InboxStore(make_engine(hub_settings.effective_database_url))
    parking = {e.delivery.event_type: e.delivery.data for e in inbox.fetch("parking", 0, 10)}
    assert parking["address.changed"] == {
        "effective_date": "2026-11-20",
        "new_address": {"postcode": "EX4 7QT", "uprn": "100023412345"},
    }
    assert parking["death.notified"] == {"date_of_death": "2026-11-18"}
    libraries = inbox.fetch("libraries", 0, 10)
    assert [e.delivery.event_type for e in libraries] == [
        "death.notified"
    ]  # nothing about the move
    assert worker.stop() == 0


async def test_redelivered_event_is_delivered_and_audited_once(
    worker: WorkerProcess,
    publisher: EventPublisher,
    hub_settings: HubSettings,
    wait_audit: Callable[..., list[AuditRow]],
) -> None:
    await publisher.publish(move("evt-dup"))
    await publisher.publish(move("evt-dup"))  # a source retrying, or at-least-once redelivery
    await publisher.publish(move("evt-after"))
    rows = wait_audit(["evt-dup", "evt-after"], expected=10, settle=1.0)
    assert len([r for r in rows if r.event_id == "evt-dup"]) == 5
    inbox = InboxStore(make_engine(hub_settings.effective_database_url))
    assert [e.delivery.event_id for e in inbox.fetch("waste", 0, 10)] == ["evt-dup", "evt-after"]


async def test_undecodable_record_goes_to_rejected_and_the_router_keeps_going(
    worker: WorkerProcess,
    publisher: EventPublisher,
    hub_settings: HubSettings,
    wiring: Wiring,
    wait_audit: Callable[..., list[AuditRow]],
) -> None:
    bootstrap = hub_settings.kafka_bootstrap
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    # a Kafka-native source (council tax) on its own topic
    await producer.send_and_wait(
        wiring.names.sources("council-tax"),
        b"\x00\x00\x00\x00\x01garbage",
        key=b"P-9",
        headers=[
            ("ce_id", b"bad-1"),
            ("ce_source", b"council-tax"),
            ("ce_type", b"address.changed"),
            ("ce_subject", b"P-9"),
            ("ce_time", b"2026-11-20T09:00:00Z"),
        ],
    )
    await producer.send_and_wait(
        wiring.names.sources("council-tax"), b"no headers at all", key=b"P-9"
    )
    await producer.stop()
    await publisher.publish(move("evt-good"))
    rows = wait_audit(["evt-good"], expected=5)
    assert len(rows) == 5

    consumer = AIOKafkaConsumer(
        wiring.names.rejected,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id="t",
    )
    await consumer.start()
    try:
        got = await consumer.getmany(timeout_ms=5000)
        while sum(len(v) for v in got.values()) < 2:
            more = await consumer.getmany(timeout_ms=5000)
            assert more, "rejected records did not arrive"
            for tp, records in more.items():
                got.setdefault(tp, []).extend(records)
    finally:
        await consumer.stop()
    records = [r for batch in got.values() for r in batch]
    values = {r.value for r in records}
    assert values == {b"\x00\x00\x00\x00\x01garbage", b"no headers at all"}  # original bytes kept
    reasons = [dict(r.headers)["hub_rejected_reason"].decode() for r in records]
    assert any("undecodable Avro body" in reason for reason in reasons)
    assert any("missing CloudEvents headers" in reason for reason in reasons)
    assert audit_rows_for(wait_audit, "bad-1") == []


def audit_rows_for(wait_audit: Callable[..., list[AuditRow]], event_id: str) -> list[AuditRow]:
    return wait_audit([event_id], expected=0)


async def test_kafka_direct_events_are_validated_like_ingest_and_kept_when_rejected(
    worker: WorkerProcess,
    publisher: EventPublisher,
    hub_settings: HubSettings,
    wiring: Wiring,
    wait_audit: Callable[..., list[AuditRow]],
) -> None:
    """A source with its own producer: valid Avro but bad data, or an unknown source, is rejected."""

    from hub.quality.counters import QualityCounters
    from hub.rejected.store import RejectedStore

    future = death("evt-future")
    future = future.model_copy(update={"data": {**future.data, "date_of_death": date(2099, 1, 1)}})
    stranger = move("evt-stranger")
    stranger = stranger.model_copy(
        update={"envelope": stranger.envelope.model_copy(update={"source": "unknown-system"})}
    )
    await publisher.publish_many([future, stranger, move("evt-fine")])
    assert len(wait_audit(["evt-fine"], expected=5)) == 5

    engine = make_engine(hub_settings.effective_database_url)
    store = RejectedStore(engine)
    wait_for_items(store.list, 2, "rejections")
    by_id = {r.event_id: r for r in store.list()}
    assert by_id["evt-future"].rules == ("not_in_future",)
    assert "date of death is in the future" in by_id["evt-future"].reason
    assert by_id["evt-future"].original_topic == "events.death.notified"
    assert by_id["evt-stranger"].rules == ("known_source",)
    # the original record is kept whole: it decodes again to what was sent
    again = wiring.codec.decode_event(by_id["evt-future"].value, by_id["evt-future"].headers)
    assert again.envelope.id == "evt-future" and again.data["date_of_death"] == date(2099, 1, 1)
    assert wait_audit(["evt-future", "evt-stranger"], expected=0) == []  # never routed

    counts = {
        (r.source, r.event_type, r.outcome, r.rule): r.count
        for r in QualityCounters(engine).summary()
    }
    assert counts[("registrar", "death.notified", "rejected", "not_in_future")] == 1
    assert counts[("unknown-system", "address.changed", "rejected", "known_source")] == 1
    assert counts[("council-tax", "address.changed", "accepted", "")] == 1
