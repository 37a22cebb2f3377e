"""The contract as a receiving system's own libraries see it: confluent-kafka's
`AvroDeserializer` with a `SchemaRegistryClient` pointed at the hub API (nothing copied from the
repository) decodes a real delivery record from the embedded broker, and the CloudEvents SDK's
Kafka binding reads its headers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import uvicorn
from cloudevents.core.bindings import kafka as ce_kafka
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from hub.audit.store import AuditFilter, AuditStore
from hub.broker.embedded import free_port
from hub.db.engine import make_engine
from hub.events.publisher import EventPublisher
from hub.routing.messages import delivery_id
from hub.settings import HubSettings
from runtime.api import create_app
from tests.integration.conftest import WorkerProcess
from tests.integration.test_interop import OpaqueAvro, consume
from tests.integration.test_sink_kafka import kafka_config
from tests.integration.webhook_setup import move, webhook_settings
from tests.people import link_events
from tests.waiting import wait_for


@contextmanager
def api_server(settings: HubSettings) -> Iterator[str]:
    """The hub API on a loopback port, in a thread (uvicorn, as `hub api` runs it)."""
    from runtime.wiring import open_stores

    open_stores(settings, schema="create").engine.dispose()  # `hub up` / `hub init` migrate first
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, lambda: "the API did not start", 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


async def test_a_confluent_deserializer_reads_a_delivery_with_only_the_hubs_url(
    hub_settings: HubSettings, publisher: EventPublisher, tmp_path: Path
) -> None:
    settings = await webhook_settings(hub_settings, kafka_config(tmp_path / "config"), {})
    assert not settings.schema_registry_url  # the hub serves its own registry
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    worker.start()
    try:
        await publisher.publish_many(link_events("P-41", ("electoral",)))
        await publisher.publish_many([move("evt-contract-1", "P-41")])
        topic = "recipient.electoral"
        audit = AuditStore(make_engine(settings.effective_database_url))
        wait_for(  # delivered = acknowledged by the broker: then read it once
            lambda: any(
                r.outcome == "delivered"
                for r in audit.query(
                    AuditFilter(event_ids=("evt-contract-1",), recipient="electoral")
                )
            ),
            lambda: (tmp_path / "worker.log").read_text()[-2000:],
            60,
        )
        (record,) = await asyncio.to_thread(consume, settings.kafka_bootstrap, topic, 1, 30)
        with api_server(settings) as url:
            client = SchemaRegistryClient({"url": url})
            decode = AvroDeserializer(client)
            value = await asyncio.to_thread(
                decode, record.value, SerializationContext(topic, MessageField.VALUE)
            )
            subjects = await asyncio.to_thread(client.get_subjects)
            latest = await asyncio.to_thread(client.get_latest_version, f"{topic}-value")
            event_latest = await asyncio.to_thread(
                client.get_latest_version, "events.address.changed-value"
            )
        assert isinstance(value, dict)
        assert value["delivery_id"] == delivery_id(
            "evt-contract-1", "electoral", source="council-tax"
        )
        assert value["version"] == 2 and value["type"] == "address.changed"
        assert value["data"]["effective_date"] == date(2026, 11, 20)  # typed, not a JSON string
        assert "subject_key" not in value
        assert f"{topic}-value" in subjects and "events.address.changed-value" in subjects
        assert latest.schema_id == int.from_bytes(record.value[1:5], "big") == 1002
        assert event_latest.version == 2 and event_latest.schema_id == 3

        # the CloudEvents SDK's Kafka binding reads the same envelope as on the source topics
        ce = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value),
            OpaqueAvro(),
        )
        assert ce.get_type() == "address.changed"
        assert ce.get_id() == value["delivery_id"]
        assert ce.get_subject() == "P-41" and record.key == b"P-41"
        assert ce.get_source() == "urn:tellitonce:hub"
        assert ce.get_datacontenttype() == "application/avro"
    finally:
        assert worker.stop() == 0
