"""Consent, identity and corrections on the real broker with the real worker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.audit.store import AuditRow
from hub.broker.admin import ensure_topics
from hub.broker.embedded import EmbeddedBroker
from hub.broker.producer import AiokafkaSender, make_producer
from hub.db.engine import make_engine
from hub.events.envelope import Envelope, Event
from hub.events.publisher import EventPublisher
from hub.inbox.store import InboxStore
from hub.quality.counters import QualityCounters
from hub.review.store import ReviewStore
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from hub.timeutil import utcnow
from runtime.wiring import wire
from tests.integration.conftest import WorkerProcess
from tests.integration.test_flow import move
from tests.people import link_events, local_id

ASC_PURPOSE = "Keep care and support records current"  # DSA-004, consent required
SUBJECT = "P-100234"


def consent(event_id: str, action: str, at: datetime) -> Event:
    return Event(
        envelope=Envelope(
            id=event_id, source="council-tax", type="consent.changed", subject=SUBJECT, time=at
        ),
        data={"action": action, "purpose": ASC_PURPOSE, "recipient": None, "effective_at": at},
    )


def outcomes(rows: list[AuditRow], event_id: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {r.recipient: (r.outcome, r.reason_codes) for r in rows if r.event_id == event_id}


STATUTORY = {
    "waste": ("delivered", ()),
    "parking": ("delivered", ()),
    "electoral": ("delivered", ()),
}


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
async def test_a_withdrawal_between_two_moves_stops_the_second_for_that_recipient_only(
    worker: WorkerProcess,
    publisher: EventPublisher,
    hub_settings: HubSettings,
    wait_audit: Callable[..., list[AuditRow]],
    tmp_path: Path,
) -> None:
    await publisher.publish_many(link_events(SUBJECT))
    granted_at = utcnow() - timedelta(minutes=5)
    await publisher.publish(consent("c-grant", "granted", granted_at))
    await asyncio.sleep(0.5)  # the grant is on record before the first move is routed
    await publisher.publish(move("m-1"))
    first = outcomes(wait_audit(["m-1"], expected=5), "m-1")
    assert first["adult-social-care"] == ("delivered", ())
    assert first["libraries"] == ("withheld", ("no_agreement",))

    await publisher.publish(consent("c-withdraw", "withdrawn", utcnow() - timedelta(seconds=1)))
    await asyncio.sleep(0.5)
    await publisher.publish(move("m-2"))
    second = outcomes(wait_audit(["m-2"], expected=5), "m-2")
    assert second["adult-social-care"] == ("withheld", ("consent_withdrawn",))
    assert {r: second[r] for r in STATUTORY} == STATUTORY  # everyone else still told

    inbox = InboxStore(make_engine(hub_settings.effective_database_url))
    asc = [e.delivery for e in inbox.fetch("adult-social-care", 0, 10)]
    assert [(d.event_id, d.local_id) for d in asc] == [
        ("m-1", local_id(SUBJECT, "adult-social-care"))
    ]
    assert worker.stop() == 0

    # The broker is lost with everything on it (memory storage): the withdrawal is not.
    with EmbeddedBroker(log_file=tmp_path / "broker2.log") as fresh:
        settings = hub_settings.model_copy(update={"kafka_bootstrap": fresh.bootstrap})
        w = wire(settings)
        await ensure_topics(settings, w.topics())
        again = WorkerProcess(settings, tmp_path / "worker2.log")
        again.start()
        try:
            producer = make_producer(settings, fresh.bootstrap)
            await producer.start()
            try:
                await EventPublisher(
                    AiokafkaSender(producer), w.codec, w.names, keys=record_keys(w.settings)
                ).publish(move("m-3"))
            finally:
                await producer.stop()
            third = outcomes(wait_audit(["m-3"], expected=5), "m-3")
            assert third["adult-social-care"] == ("withheld", ("consent_withdrawn",))
            assert {r: third[r] for r in STATUTORY} == STATUTORY  # links survived too
        finally:
            assert again.stop() == 0


async def test_an_unknown_person_waits_for_review_until_linked_then_is_routed(
    worker: WorkerProcess,
    publisher: EventPublisher,
    hub_settings: HubSettings,
    wait_audit: Callable[..., list[AuditRow]],
) -> None:
    await publisher.publish(move("m-unknown", subject="P-555"))
    reviews = ReviewStore(make_engine(hub_settings.effective_database_url))
    for _ in range(100):
        if reviews.find():
            break
        await asyncio.sleep(0.1)
    [item] = reviews.find()
    assert item.event_id == "m-unknown" and "P-555" not in item.subject_key
    assert wait_audit(["m-unknown"], expected=0) == []  # not routed, not dropped

    await publisher.publish_many(link_events("P-555", ("waste",)))
    rows = outcomes(wait_audit(["m-unknown"], expected=5), "m-unknown")
    assert rows["waste"] == ("delivered", ())
    assert rows["parking"] == ("withheld", ("no_local_record",))
    assert rows["electoral"] == ("delivered", ())  # DSA-002 allows notify-to-match
    inbox = InboxStore(make_engine(hub_settings.effective_database_url))
    [electoral] = [e.delivery for e in inbox.fetch("electoral", 0, 10)]
    assert electoral.local_id is None and "previous_address" not in electoral.data
    for _ in range(50):
        if reviews.find() == []:
            break
        await asyncio.sleep(0.1)
    assert reviews.find() == [] and reviews.find(status="released")[0].event_id == "m-unknown"
    # the data quality page counts the event once: held, then released, it is one event
    quality = QualityCounters(make_engine(hub_settings.effective_database_url))
    counted = [(q.event_type, q.outcome, q.count) for q in quality.summary(source="council-tax")]
    assert counted == [("address.changed", "accepted", 1)]


async def test_a_correction_reaches_exactly_those_that_received_the_original(
    worker: WorkerProcess,
    publisher: EventPublisher,
    hub_settings: HubSettings,
    wait_audit: Callable[..., list[AuditRow]],
) -> None:
    await publisher.publish_many(link_events(SUBJECT))
    await publisher.publish(move("m-orig"))
    wait_audit(["m-orig"], expected=5)
    original = move("m-orig")
    fixed = dict(original.data)
    fixed["new_address"] = {**fixed["new_address"], "postcode": "EX4 7QU"}
    correction = Event(
        envelope=Envelope(
            id="fix-1",
            source="council-tax",
            type="correction",
            subject=SUBJECT,
            time=datetime(2026, 11, 21, tzinfo=UTC),
        ),
        data={
            "original_event_id": "m-orig",
            "original_event_type": "address.changed",
            "reason": "postcode keyed wrongly",
            "corrected_data": json.dumps(fixed, default=str),
        },
    )
    await publisher.publish(correction)
    rows = outcomes(wait_audit(["fix-1"], expected=3), "fix-1")
    assert set(rows) == {"waste", "parking", "electoral"}  # not libraries or adult social care
    inbox = InboxStore(make_engine(hub_settings.effective_database_url))
    parking = [e.delivery for e in inbox.fetch("parking", 0, 10) if e.delivery.event_id == "fix-1"]
    assert parking[0].data["corrected"]["new_address"] == {
        "postcode": "EX4 7QU",
        "uprn": "100023412345",
    }


async def test_suspending_an_agreement_stops_its_flow_without_a_restart(
    hub_settings: HubSettings,
    wiring: object,
    publisher: EventPublisher,
    wait_audit: Callable[..., list[AuditRow]],
    tmp_path: Path,
) -> None:
    import shutil

    config_dir = tmp_path / "config"
    shutil.copytree(hub_settings.config_dir, config_dir)
    settings = hub_settings.model_copy(
        update={"config_dir": config_dir, "config_reload_interval_s": 0.2}
    )
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    worker.start()
    try:
        await publisher.publish_many(link_events(SUBJECT))
        await publisher.publish(move("m-before"))
        assert outcomes(wait_audit(["m-before"], expected=5), "m-before")["parking"] == (
            "delivered",
            (),
        )
        dsa3 = config_dir / "agreements" / "DSA-003-parking-address.yaml"
        dsa3.write_text(dsa3.read_text().replace("status: active", "status: suspended"))
        await asyncio.sleep(1.5)  # a few reload intervals
        await publisher.publish(move("m-after"))
        after = outcomes(wait_audit(["m-after"], expected=5), "m-after")
        assert after["parking"] == ("withheld", ("agreement_not_active",))
        assert after["waste"] == ("delivered", ())
    finally:
        assert worker.stop() == 0


async def test_replay_delivers_to_a_newly_entitled_recipient_what_the_policy_allows_now(
    hub_settings: HubSettings,
    wiring: object,
    wait_audit: Callable[..., list[AuditRow]],
    tmp_path: Path,
) -> None:
    import shutil

    from hub.journal.store import JournalStore
    from hub.routing.originals import AuditOriginals
    from hub.subjects.store import SubjectStore
    from runtime.replay import replay_for

    config_dir = tmp_path / "config"
    shutil.copytree(hub_settings.config_dir, config_dir)
    settings = hub_settings.model_copy(update={"config_dir": config_dir})
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    worker.start()
    engine = make_engine(settings.effective_database_url)
    producer = make_producer(settings, settings.kafka_bootstrap)
    await producer.start()
    w = wire(settings)
    journaled = EventPublisher(
        AiokafkaSender(producer), w.codec, w.names, JournalStore(engine), keys=record_keys(settings)
    )
    try:
        await journaled.publish_many(link_events(SUBJECT))
        await journaled.publish(move("m-then"))
        before = outcomes(wait_audit(["m-then"], expected=5), "m-then")
        assert before["libraries"] == ("withheld", ("no_agreement",))

        # Libraries gets an agreement for address changes (only the postcode), then a replay.
        dsa = (config_dir / "agreements" / "DSA-003-parking-address.yaml").read_text()
        (config_dir / "agreements" / "DSA-010-libraries-address.yaml").write_text(
            dsa.replace("id: DSA-003", "id: DSA-010")
            .replace("recipients: [parking]", "recipients: [libraries]")
            .replace(
                "[new_address.uprn, new_address.postcode, effective_date]", "[new_address.postcode]"
            )
        )
        w2 = wire(settings)
        summary = await replay_for(
            settings,
            settings.kafka_bootstrap,
            w2,
            JournalStore(engine),
            SubjectStore(engine),
            AuditOriginals(engine),
            "libraries",
            datetime(2026, 1, 1, tzinfo=UTC),
            "address.changed",
            utcnow(),
        )
        assert (summary.delivered, summary.withheld) == (1, 0)
        for _ in range(100):
            rows = [r for r in wait_audit(["m-then"], expected=6) if r.recipient == "libraries"]
            if any(r.outcome == "delivered" for r in rows):
                break
            await asyncio.sleep(0.1)
        assert sorted(r.outcome for r in rows) == ["delivered", "withheld"]  # both on record
        inbox = InboxStore(engine)
        [item] = [e.delivery for e in inbox.fetch("libraries", 0, 10)]
        assert item.event_id == "m-then" and item.mode == "replay"
        assert item.data == {"new_address": {"postcode": "EX4 7QT"}}  # today's agreement's fields
    finally:
        await producer.stop()
        assert worker.stop() == 0
