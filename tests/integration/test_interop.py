"""Standard Kafka tooling, not the hub, reads what the hub publishes.

librdkafka (confluent-kafka) consumes the topic, the Confluent wire-format header is taken
apart by hand, the body is decoded by plain fastavro from the .avsc file on disk, and the
CloudEvents SDK parses the headers (Kafka binary content mode).
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import fastavro
import pytest
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.v1 import kafka as ce_kafka_v1
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from hub.events.envelope import Envelope, Event
from hub.events.publisher import EventPublisher
from hub.settings import HubSettings
from runtime.wiring import Wiring

MOVE = Event(
    envelope=Envelope(
        id="evt-interop-move-1",
        source="council-tax",
        type="address.changed",
        subject="P-200101",
        time=datetime(2026, 11, 20, 9, 0, 5, 250000, tzinfo=UTC),
        dataschema="urn:tellitonce:schema:address.changed:v2",
        correlationid="case-4411",
    ),
    data={
        "previous_address": {
            "uprn": "100023336956",
            "lines": ["2 Mill Lane", "Exeter"],
            "postcode": "EX1 2AB",
        },
        "new_address": {
            "uprn": "100023412345",
            "lines": ["7 Orchard Close"],
            "postcode": "EX4 7QT",
        },
        "effective_date": date(2026, 11, 20),
        "move_type": "within_area",
    },
)

DEATH = Event(
    envelope=Envelope(
        id="evt-interop-death-1",
        source="registrar",
        type="death.notified",
        subject="P-200871",
        time=datetime(2026, 11, 19, 16, 45, tzinfo=UTC),
    ),
    data={
        "date_of_death": date(2026, 11, 18),
        "verified_by": "registrar",
        "informant": {"name": "Ada Example", "relationship": "daughter"},
    },
)

EVENTS = (MOVE, DEATH)


@dataclass(frozen=True)
class Consumed:
    """One record as librdkafka handed it over."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def consume(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list[Consumed]:
    """Read `topic` from the beginning to its end with librdkafka (blocking); expect `expected`."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"interop-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    records: list[Consumed] = []
    try:
        # Explicit assignment from the beginning of every partition, no group join: librdkafka
        # joining a consumer group on the embedded broker takes ~20 s, and nothing here needs it.
        deadline = time.monotonic() + timeout
        partitions = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
        assert partitions, f"{topic} has no partitions"
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        at_end: set[int] = set()
        while len(at_end) < len(partitions):  # everything published was acknowledged already
            assert time.monotonic() < deadline, f"{len(records)} of {expected} from {topic}"
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                at_end.add(msg.partition() or 0)
                continue
            value = msg.value()
            assert isinstance(value, bytes)
            raw_headers = msg.headers() or []
            assert isinstance(raw_headers, list)
            headers = [(name, raw) for name, raw in raw_headers if isinstance(raw, bytes)]
            assert len(headers) == len(raw_headers), f"a header without a value: {raw_headers}"
            records.append(Consumed(topic, msg.key(), value, headers))
    finally:
        consumer.close()
    assert len(records) == expected, records
    return records


@pytest.fixture
async def consumed(
    publisher: EventPublisher, wiring: Wiring, hub_settings: HubSettings
) -> dict[str, Consumed]:
    """Publish through the hub, then read each event's topic back with librdkafka."""
    await publisher.publish_many(list(EVENTS))
    out: dict[str, Consumed] = {}
    for event in EVENTS:
        topic = wiring.names.events(event.envelope.type)
        (record,) = await asyncio.to_thread(consume, hub_settings.kafka_bootstrap, topic, 1)
        out[event.envelope.type] = record
    return out


def _ce_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.envelope.type)
async def test_a_librdkafka_consumer_decodes_the_value_with_plain_fastavro(
    consumed: dict[str, Consumed], wiring: Wiring, event: Event
) -> None:
    record = consumed[event.envelope.type]
    schema = wiring.registry.latest(event.envelope.type)

    assert record.key == event.envelope.subject.encode()
    magic, schema_id = struct.unpack(">bI", record.value[:5])
    assert magic == 0
    assert schema_id == schema.schema_id
    writer = fastavro.parse_schema(json.loads(schema.file.read_text()))
    decoded = fastavro.schemaless_reader(io.BytesIO(record.value[5:]), writer, None)
    assert decoded == event.data

    headers = dict(record.headers)
    assert len(headers) == len(record.headers), "no header is repeated"
    assert headers["content-type"] == b"application/avro"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == event.envelope.id.encode()
    assert headers["ce_type"] == event.envelope.type.encode()
    assert headers["ce_time"] == _ce_time(event.envelope.time).encode()


class OpaqueAvro:
    """A CloudEvents `Format` that hands the Avro body over untouched (binary mode only)."""

    def read(self, event_factory: Any, data: str | bytes) -> BaseCloudEvent:
        raise NotImplementedError("structured mode is not used")

    def write(self, event: BaseCloudEvent) -> bytes:
        raise NotImplementedError("structured mode is not used")

    def write_data(self, data: Any, datacontenttype: str | None) -> bytes:
        assert isinstance(data, bytes)
        return data

    def read_data(self, body: bytes, datacontenttype: str | None) -> bytes:
        return body

    def get_content_type(self) -> str:
        return "application/avro"


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.envelope.type)
async def test_the_cloudevents_sdk_reads_the_kafka_headers(
    consumed: dict[str, Consumed], event: Event
) -> None:
    record = consumed[event.envelope.type]
    env = event.envelope
    message = ce_kafka.KafkaMessage(
        headers=dict(record.headers), key=record.key, value=record.value
    )

    ce = ce_kafka.from_binary(message, OpaqueAvro())

    assert ce.get_specversion() == "1.0"
    assert ce.get_id() == env.id
    assert ce.get_source() == env.source
    assert ce.get_type() == env.type
    assert ce.get_subject() == env.subject
    assert ce.get_time() == env.time
    assert ce.get_datacontenttype() == "application/avro"
    assert ce.get_dataschema() == (env.dataschema or None)
    assert ce.get_extension("correlationid") == (env.correlationid or None)
    assert ce.get_extension("partitionkey") == env.subject  # the Kafka key, per the binding
    assert ce.get_data() == record.value

    # the SDK's older (1.x) Kafka API, still shipped as cloudevents.v1.kafka
    legacy = ce_kafka_v1.from_binary(
        ce_kafka_v1.KafkaMessage(dict(record.headers), record.key, record.value),
        data_unmarshaller=lambda body: body,
    )
    assert legacy["specversion"] == "1.0"
    assert (legacy["id"], legacy["source"], legacy["type"], legacy["subject"]) == (
        env.id,
        env.source,
        env.type,
        env.subject,
    )
    assert datetime.fromisoformat(legacy["time"]) == env.time
    assert legacy.get_data() == record.value
