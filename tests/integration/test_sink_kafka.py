"""Kafka sink: a recipient reads its own topic with a plain Kafka consumer (CloudEvents headers,
Confluent wire-format Avro decoded with the schema named by `registry.json`)."""

from __future__ import annotations

import io
import json
import shutil
import struct
from pathlib import Path

import fastavro
from aiokafka import AIOKafkaConsumer

from hub.audit.store import AuditFilter, AuditStore
from hub.db.engine import make_engine
from hub.events.publisher import EventPublisher
from hub.routing.messages import delivery_id
from hub.settings import REPO_ROOT, HubSettings
from tests.conftest import SAMPLE_CONFIG
from tests.integration.conftest import WorkerProcess
from tests.integration.webhook_setup import move, webhook_settings
from tests.people import link_events
from tests.waiting import wait_for


def kafka_config(target: Path) -> Path:
    shutil.copytree(SAMPLE_CONFIG, target)
    systems = target / "systems.yaml"
    text = systems.read_text()
    marker = "  - id: electoral\n"
    head, tail = text.split(marker)
    sub = next(line for line in tail.splitlines() if line.startswith("    subscriptions:"))
    tail = tail.replace(sub, sub + "\n    delivery:\n      kind: kafka", 1)
    systems.write_text(head + marker + tail)
    return target


async def test_a_kafka_recipient_reads_wire_format_avro_with_cloudevents_headers(
    hub_settings: HubSettings, publisher: EventPublisher, tmp_path: Path
) -> None:
    settings = await webhook_settings(hub_settings, kafka_config(tmp_path / "config"), {})
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    worker.start()
    try:
        await publisher.publish_many(link_events("P-5", ("electoral",)))
        await publisher.publish_many([move("evt-kafka-1", "P-5")])
        consumer = AIOKafkaConsumer(
            "recipient.electoral",
            bootstrap_servers=settings.kafka_bootstrap,
            auto_offset_reset="earliest",
            group_id="electoral-system",
        )
        await consumer.start()
        try:
            msg = await consumer.getone()
        finally:
            await consumer.stop()
        headers = {k: v.decode() for k, v in msg.headers}
        did = delivery_id("evt-kafka-1", "electoral", source="council-tax")
        assert headers["ce_id"] == did
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_type"].endswith("address.changed")
        assert headers["content-type"] == "application/avro"
        # decode as any consumer would: magic byte, schema id, Avro body
        assert msg.value is not None
        magic, schema_id = struct.unpack(">bI", msg.value[:5])
        index = json.loads((REPO_ROOT / "schemas/avro/registry.json").read_text())
        entry = next(r for r in index["records"] if r["id"] == schema_id)
        schema = fastavro.parse_schema(
            json.loads((REPO_ROOT / "schemas/avro" / entry["file"]).read_text())
        )
        record = fastavro.schemaless_reader(io.BytesIO(msg.value[5:]), schema)
        assert isinstance(record, dict)
        assert magic == 0 and record["delivery_id"] == did
        assert record["agreement_id"] == "DSA-002"
        given = {k for k, v in record["data"].items() if v is not None}  # typed, not JSON
        assert given == {f.split(".")[0] for f in record["fields"]}
        assert headers["ce_type"] == "address.changed" and msg.key == b"P-5"
        audit = AuditStore(make_engine(settings.effective_database_url))
        wait_for(
            lambda: any(
                r.outcome == "delivered"
                for r in audit.query(AuditFilter(event_ids=("evt-kafka-1",), recipient="electoral"))
            ),
            lambda: "no delivered audit row for the Kafka sink",
            30,
        )
    finally:
        assert worker.stop() == 0
