"""Rotating the record key: a worker holding the new key and the old one still acts on records
signed with the old key (in flight during the rotation), and signs with the new one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr

from hub.audit.store import AuditRow
from hub.broker.producer import AiokafkaSender, make_producer
from hub.db.engine import make_engine
from hub.events.publisher import EventPublisher
from hub.inbox.store import InboxStore
from hub.rejected.quarantine import QuarantineStore
from hub.settings import HubSettings
from hub.signing.records import RecordKeys
from runtime.wiring import Wiring
from tests.conftest import TEST_RECORD_KEY
from tests.integration.conftest import WorkerProcess
from tests.integration.test_flow import move
from tests.integration.test_signed_records import forged_delivery, produce
from tests.people import link_events

NEW_KEY = "the-new-record-signing-key-0123456789"


@pytest.fixture
def hub_settings(hub_settings: HubSettings) -> HubSettings:
    return hub_settings.model_copy(
        update={
            "record_signing_key": SecretStr(NEW_KEY),
            "record_signing_old_keys": [SecretStr(TEST_RECORD_KEY)],
        }
    )


async def test_records_signed_with_the_old_key_still_count(
    worker: WorkerProcess,
    hub_settings: HubSettings,
    wiring: Wiring,
    wait_audit: Callable[..., list[AuditRow]],
) -> None:
    old = RecordKeys.of(TEST_RECORD_KEY)  # an API process not yet restarted with the new key
    producer = make_producer(hub_settings, hub_settings.kafka_bootstrap)
    await producer.start()
    try:
        publisher = EventPublisher(AiokafkaSender(producer), wiring.codec, wiring.names, keys=old)
        await publisher.publish_many([*link_events("P-100234"), move("evt-old-key")])
    finally:
        await producer.stop()
    assert len(wait_audit(["evt-old-key"], expected=5)) == 5

    topic = wiring.names.deliveries("waste")
    value = forged_delivery("evt-old-delivery").model_dump_json().encode()
    await produce(
        hub_settings.kafka_bootstrap,
        [(topic, b"P-100234", value, old.sign_headers(topic, b"P-100234", value))],
    )
    rows = wait_audit(["evt-old-delivery"], expected=1)
    assert [r.outcome for r in rows] == ["delivered"]  # its audit entry: signed with the new key
    engine = make_engine(hub_settings.effective_database_url)
    waste = {e.delivery.event_id for e in InboxStore(engine).fetch("waste", 0, 100)}
    assert {"evt-old-key", "evt-old-delivery"} <= waste
    assert QuarantineStore(engine).list() == []
