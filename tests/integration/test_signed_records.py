"""Issue 12: nothing forged on an internal topic is acted on, and a Kafka-native source cannot
claim another source. Any Kafka client writes here, as an attacker inside the network would;
the real worker consumes."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine

from hub.audit.store import AuditRow
from hub.db.engine import make_engine
from hub.events.publisher import EventPublisher
from hub.inbox.store import InboxStore
from hub.rejected.quarantine import Quarantined, QuarantineStore
from hub.rejected.store import RejectedStore, Rejection
from hub.routing.messages import AuditEntry, Delivery, Outcome, delivery_id
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from runtime.stack import settings_env
from runtime.wiring import Wiring
from tests.integration.conftest import WorkerProcess
from tests.integration.test_flow import death, move
from tests.people import link_events
from tests.waiting import wait_for_items

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def forged_delivery(event_id: str) -> Delivery:
    return Delivery(
        delivery_id=delivery_id(event_id, "waste", source="registrar"),
        event_id=event_id,
        event_type="death.notified",
        source="registrar",
        subject="P-100234",
        subject_key="0" * 32,
        recipient="waste",
        local_id="WST-000417",
        event_time=NOW,
        agreement_id="DSA-005",
        agreement_version="v1",
        lawful_basis="Art. 6(1)(e)",
        purpose="stop collections",
        fields=("date_of_death",),
        data={"date_of_death": "2026-11-18"},
        decided_at=NOW,
    )


def forged_entry(event_id: str) -> AuditEntry:
    did = delivery_id(event_id, "parking", source="registrar")
    return AuditEntry(
        entry_id=AuditEntry.make_id(did, Outcome.DELIVERED),
        delivery_id=did,
        event_id=event_id,
        event_type="address.changed",
        source="council-tax",
        recipient="parking",
        subject_key="0" * 32,
        outcome=Outcome.DELIVERED,
        event_time=NOW,
        decided_at=NOW,
    )


async def produce(bootstrap: str, records: list[tuple[str, bytes, bytes, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic, key, value, headers in records:
            await producer.send_and_wait(topic, value, key=key, headers=headers or [])
    finally:
        await producer.stop()


async def test_forged_internal_records_are_quarantined_never_acted_on(
    worker: WorkerProcess,
    publisher: EventPublisher,
    hub_settings: HubSettings,
    wiring: Wiring,
    wait_audit: Callable[..., list[AuditRow]],
) -> None:
    await publisher.publish_many(link_events("P-100234"))
    names = wiring.names
    keys = record_keys(hub_settings)
    fake = forged_delivery("evt-forged-death").model_dump_json().encode()
    entry = forged_entry("evt-forged-audit").model_dump_json().encode()
    genuine = forged_delivery("evt-altered").model_dump_json().encode()
    signed = keys.sign_headers(names.deliveries("waste"), b"P-100234", genuine)
    await produce(
        hub_settings.kafka_bootstrap,
        [
            (names.deliveries("waste"), b"P-100234", fake, None),  # any Kafka client
            (names.audit, b"k", entry, None),
            # a valid signature, with the value altered afterwards
            (names.deliveries("waste"), b"P-100234", genuine.replace(b"11-18", b"11-17"), signed),
            # a hub-signed delivery for waste copied onto parking's topic
            (names.deliveries("parking"), b"P-100234", genuine, signed),
        ],
    )
    await publisher.publish(move("evt-real"))  # the worker keeps going
    assert len(wait_audit(["evt-real"], expected=5)) == 5

    engine: Engine = make_engine(hub_settings.effective_database_url)
    kept: list[Quarantined] = wait_for_items(QuarantineStore(engine).list, 4, "quarantined")
    by_topic = sorted((q.topic, q.reason, q.consumer) for q in kept)
    assert by_topic == [
        ("audit", "unsigned", "audit-writer"),
        ("deliveries.parking", "bad_signature", "delivery"),
        ("deliveries.waste", "bad_signature", "delivery"),
        ("deliveries.waste", "unsigned", "delivery"),
    ]
    unsigned_delivery = next(q for q in kept if q.reason == "unsigned" and q.topic != "audit")
    assert unsigned_delivery.value == fake  # kept whole for inspection
    assert QuarantineStore(engine).counts()[("deliveries.waste", "unsigned")] == 1

    inbox = [e.delivery.event_id for e in InboxStore(engine).fetch("waste", 0, 100)]
    assert "evt-real" in inbox
    assert not {"evt-forged-death", "evt-altered"} & set(inbox)
    assert InboxStore(engine).fetch("parking", 0, 100)[0].delivery.event_id != "evt-altered"
    assert wait_audit(["evt-forged-audit", "evt-forged-death", "evt-altered"], expected=0) == []
    listed = subprocess.run(
        [sys.executable, "-m", "cli", "deliveries", "quarantine", "--json"],
        env=settings_env(hub_settings),
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted(x["topic"] for x in lines)[0] == "audit"
    assert {base64.b64decode(x["value_b64"]) for x in lines} >= {fake, entry}
    log = (worker.log_file).read_text()
    assert '"record_refused"' in log and '"offset"' in log
    assert worker.stop() == 0


async def test_a_kafka_native_source_cannot_claim_another_source(
    worker: WorkerProcess,
    publisher: EventPublisher,
    hub_settings: HubSettings,
    wiring: Wiring,
    wait_audit: Callable[..., list[AuditRow]],
) -> None:
    """Council Tax's principal writes only sources.council-tax: a death there claiming to be the
    registrar's is rejected (source_mismatch); its own move there is routed; nothing unsigned
    on the hub's events topics is routed."""
    await publisher.publish_many(link_events("P-100234") + link_events("P-100871"))
    codec, names = wiring.codec, wiring.names
    claimed = codec.encode_event(death("evt-claimed"))  # ce_source: registrar
    own = codec.encode_event(move("evt-own-topic"))  # ce_source: council-tax
    unsigned = codec.encode_event(death("evt-unsigned"))
    await produce(
        hub_settings.kafka_bootstrap,
        [
            (names.sources("council-tax"), claimed.key, claimed.value, claimed.headers),
            (names.sources("council-tax"), own.key, own.value, own.headers),
            (names.events("death.notified"), unsigned.key, unsigned.value, unsigned.headers),
        ],
    )
    assert len(wait_audit(["evt-own-topic"], expected=5)) == 5
    engine = make_engine(hub_settings.effective_database_url)
    rejected: list[Rejection] = wait_for_items(RejectedStore(engine).list, 2, "rejections")
    by_id = {r.event_id: r for r in rejected}
    assert by_id["evt-claimed"].rules == ("source_mismatch",)
    assert by_id["evt-claimed"].source == "council-tax"  # the topic's source, not the claim
    assert by_id["evt-claimed"].original_topic == "sources.council-tax"
    assert by_id["evt-unsigned"].rules == ("unsigned",)
    assert wait_audit(["evt-claimed", "evt-unsigned"], expected=0) == []
    waste = [e.delivery.event_id for e in InboxStore(engine).fetch("waste", 0, 100)]
    assert "evt-own-topic" in waste and "evt-claimed" not in waste
