"""One CloudEvents envelope on every topic the hub writes, read back with the CloudEvents SDK's
Kafka binding after a real flow on the embedded broker: events, routed deliveries, the audit
trail, a rejection, a webhook dead letter and a Kafka recipient's own topic. In the same flow:
an external Confluent Schema Registry (a small fake speaking its HTTP API) gets the delivery
record registered, so a recipient's Confluent deserializer against it decodes the record; and
each pull-inbox recipient's cursors run 1, 2, 3 whatever the others receive."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from cloudevents.core.bindings import kafka as ce_kafka
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from hub import __version__
from hub.api.asyncapi import asyncapi_document
from hub.audit.store import AuditFilter, AuditStore
from hub.broker.producer import AiokafkaSender, make_producer
from hub.db.engine import make_engine
from hub.delivery.outbox import OutboxStore
from hub.events.envelope import Envelope, Event
from hub.events.publisher import EventPublisher
from hub.inbox.store import InboxStore
from hub.journal.store import JournalStore
from hub.rejected.store import RejectedStore
from hub.routing.messages import delivery_id
from hub.routing.originals import AuditOriginals
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from hub.subjects.store import SubjectStore
from hub.timeutil import utcnow
from runtime.replay import replay_for
from runtime.wiring import wire
from tests.integration.conftest import WorkerProcess
from tests.integration.test_interop import OpaqueAvro
from tests.integration.webhook_receiver import Endpoint, Receiver, make_secret
from tests.integration.webhook_setup import move, webhook_config, webhook_settings
from tests.people import link_events
from tests.waiting import wait_for

PULL = ("waste", "parking")
SPEC = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type")


class FakeRegistry(BaseHTTPRequestHandler):
    """The part of the Confluent Schema Registry API the hub and a deserializer use: one
    global id per distinct schema (from 100, unlike the hub's own ids), versions per subject."""

    ids: dict[str, int] = {}
    subjects: dict[str, list[int]] = {}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        parts = self.path.split("?")[0].strip("/").split("/")
        length = int(self.headers.get("Content-Length", 0))
        schema = json.dumps(json.loads(json.loads(self.rfile.read(length))["schema"]))
        if len(parts) != 3 or parts[0] != "subjects" or parts[2] != "versions":
            return self._send(404, {"error_code": 404, "message": "not found"})
        schema_id = self.ids.setdefault(schema, 100 + len(self.ids))
        versions = self.subjects.setdefault(parts[1], [])
        if schema_id not in versions:
            versions.append(schema_id)
        return self._send(200, {"id": schema_id})

    def do_GET(self) -> None:
        parts = self.path.split("?")[0].strip("/").split("/")
        by_id = {v: k for k, v in self.ids.items()}
        if parts[:2] == ["schemas", "ids"] and int(parts[2]) in by_id:
            return self._send(200, {"schema": by_id[int(parts[2])], "schemaType": "AVRO"})
        if parts == ["subjects"]:
            return self._send(200, sorted(self.subjects))
        return self._send(404, {"error_code": 40403, "message": f"{self.path} not found"})


@contextmanager
def fake_registry() -> Iterator[tuple[str, type[FakeRegistry]]]:
    handler = type("Registry", (FakeRegistry,), {"ids": {}, "subjects": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def read_topic(bootstrap: str, topic: str, timeout: float = 30) -> list[Any]:
    """Every record on `topic`, from the beginning of each partition to its end (librdkafka)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"envelopes-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    records: list[Any] = []
    try:
        partitions = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        at_end: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(at_end) < len(partitions):
            assert time.monotonic() < deadline, f"{topic}: not read to its end in time"
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                at_end.add(msg.partition() or 0)
                continue
            records.append(msg)
    finally:
        consumer.close()
    return records


def as_cloudevent(msg: Any) -> tuple[Any, dict[str, bytes]]:
    """The record as the CloudEvents SDK's Kafka binding reads it (binary mode)."""
    headers = {name: value for name, value in msg.headers() or []}
    content_type = headers.get("content-type", b"").decode()
    message = ce_kafka.KafkaMessage(headers=headers, key=msg.key(), value=msg.value())
    if content_type == "application/json":
        event = ce_kafka.from_binary_event(message)  # its JSON format parses the value too
    else:
        event = ce_kafka.from_binary(message, OpaqueAvro())
    return event, headers


def asyncapi_headers(doc: dict[str, Any], topic: str) -> dict[str, Any]:
    """The headers schema /asyncapi.json gives for the records on `topic`."""
    for channel in doc["channels"].values():
        pattern = "^" + re.sub(r"\\\{[a-z]+\\\}", "[^.]+", re.escape(channel["address"])) + "$"
        if re.match(pattern, topic):
            (ref,) = [m["$ref"] for m in channel["messages"].values()][:1]
            message = doc["components"]["messages"][ref.rsplit("/", 1)[1]]
            schema: dict[str, Any] = message["headers"]
            return schema
    raise AssertionError(f"/asyncapi.json has no channel for {topic}")


def death(source: str, event_id: str, subject: str) -> Event:
    return Event(
        envelope=Envelope(
            id=event_id,
            source=source,
            type="death.notified",
            subject=subject,
            time=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
        ),
        data={"date_of_death": date(2026, 11, 18), "verified_by": "registrar", "informant": None},
    )


def electoral_on_kafka(config: Path) -> None:
    systems = config / "systems.yaml"
    text = systems.read_text()
    head, tail = text.split("  - id: electoral\n")
    sub = next(line for line in tail.splitlines() if line.startswith("    subscriptions:"))
    tail = tail.replace(sub, sub + "\n    delivery:\n      kind: kafka", 1)
    systems.write_text(head + "  - id: electoral\n" + tail)


async def test_every_topic_the_hub_writes_carries_the_same_cloudevents_envelope(
    hub_settings: HubSettings, tmp_path: Path
) -> None:
    libraries = Endpoint("libraries", make_secret("libraries"), respond=lambda n: 500)
    with ExitStack() as running:
        rx = running.enter_context(Receiver([libraries]))
        registry_url, registry = running.enter_context(fake_registry())
        config = webhook_config(tmp_path / "config", {"libraries": rx.url("libraries")})
        electoral_on_kafka(config)
        settings = await webhook_settings(
            hub_settings.model_copy(update={"schema_registry_url": registry_url}),
            config,
            {"libraries": libraries.secret},
            schedule=(0.1,),
        )
        w = wire(settings)  # registers every schema, as every hub process does at start
        assert "recipient.electoral-value" in registry.subjects
        delivery_id_remote = registry.subjects["recipient.electoral-value"][-1]
        assert delivery_id_remote >= 100 and delivery_id_remote == w.delivery_schema_id
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        worker.start()
        producer = make_producer(settings, settings.kafka_bootstrap)
        await producer.start()
        try:
            engine = make_engine(settings.effective_database_url)
            publisher = EventPublisher(
                AiokafkaSender(producer),
                w.codec,
                w.names,
                JournalStore(engine),
                keys=record_keys(settings),
            )
            await publisher.publish_many(link_events("P-61", ("electoral", *PULL)))
            await publisher.publish_many(link_events("P-62", ("libraries",)))
            moves = [move(f"evt-env-{n}", "P-61", n) for n in range(3)]
            await publisher.publish_many(moves)
            # a death the registrar notifies: libraries' webhook refuses it into a dead letter
            await publisher.publish_many([death("registrar", "evt-env-died", "P-62")])
            # rejected: a death council tax has no authority to notify (signed by the hub) ...
            await publisher.publish_many([death("council-tax", "evt-env-death", "P-61")])
            # ... and a record on council tax's own topic that is not Avro at all
            raw = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
            await raw.start()
            try:
                await raw.send_and_wait(
                    "sources.council-tax",
                    b"not avro",
                    key=b"P-61",
                    headers=[("ce_type", b"address.changed"), ("ce_id", b"evt-env-garbage")],
                )
            finally:
                await raw.stop()

            audit, inbox = AuditStore(engine), InboxStore(engine)
            outbox, rejected = OutboxStore(engine), RejectedStore(engine)
            ids = tuple(e.envelope.id for e in moves)

            def done() -> bool:
                delivered = audit.query(AuditFilter(event_ids=ids, outcome="delivered", limit=1000))
                return (
                    len(delivered) == 3 * (1 + len(PULL))  # electoral and the inboxes
                    and len(outbox.dead()) == 1
                    and len(audit.query(AuditFilter(outcome="failed"))) == 1
                    and len(rejected.list(None, None, 10)) == 2
                )

            def state() -> str:
                delivered = audit.query(AuditFilter(event_ids=ids, limit=1000))
                return (
                    f"audit {sorted((r.recipient, r.outcome) for r in delivered)}, "
                    f"dead {len(outbox.dead())}, rejected {len(rejected.list(None, None, 10))}\n"
                    + (tmp_path / "worker.log").read_text()[-1500:]
                )

            wait_for(done, state, 60)

            # per-recipient cursors: each inbox runs 1, 2, 3 whatever the others receive
            for recipient in PULL:
                page = inbox.fetch(recipient, after=0, limit=10)
                assert [e.cursor for e in page] == [1, 2, 3], recipient
                assert [e.delivery.event_id for e in page] == list(ids)
            # a replay for parking (runtime.replay writes deliveries and audit entries too):
            # new messages, in the same envelope, after parking's own cursors
            summary = await replay_for(
                settings,
                settings.kafka_bootstrap,
                w,
                JournalStore(engine),
                SubjectStore(engine),
                AuditOriginals(engine),
                "parking",
                datetime(2026, 1, 1, tzinfo=UTC),
                "address.changed",
                utcnow(),
            )
            assert summary.delivered == 3
            wait_for(
                lambda: len(inbox.fetch("parking", after=3, limit=10)) == 3,
                lambda: f"{inbox.fetch('parking', 0, 10)}",
                30,
            )
            assert [e.cursor for e in inbox.fetch("parking", 3, 10)] == [4, 5, 6]
        finally:
            await producer.stop()
            assert worker.stop() == 0

        # a recipient's Confluent deserializer against the external registry decodes its record
        record = (
            await asyncio.to_thread(read_topic, settings.kafka_bootstrap, "recipient.electoral")
        )[0]
        assert int.from_bytes(record.value()[1:5], "big") == delivery_id_remote
        decode = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
        value = await asyncio.to_thread(
            decode,
            record.value(),
            SerializationContext("recipient.electoral", MessageField.VALUE),
        )
        assert value["version"] == 2 and value["type"] == "address.changed"
        assert value["data"]["effective_date"] == date(2026, 11, 20)

    doc = asyncapi_document(w.registry, w.names, w.config, settings.schema_dir, __version__)
    topics = [
        "events.person.linked",
        "events.address.changed",
        "events.death.notified",
        # pull inboxes: live deliveries are stored in the router's own transaction (no topic);
        # the replay for parking goes through deliveries.parking
        *(w.names.deliveries(r) for r in ("libraries", "electoral", "parking")),
        w.names.audit,
        w.names.rejected,
        w.names.dead_letters,
        "recipient.electoral",
    ]
    sources = {  # who wrote it: the source (events), else the hub
        "events.person.linked": {"customer-index"},
        "events.address.changed": {"council-tax"},
        "events.death.notified": {"council-tax", "registrar"},
    }
    seen: dict[str, list[Any]] = {}
    for topic in topics:
        records = await asyncio.to_thread(read_topic, settings.kafka_bootstrap, topic)
        assert records, f"nothing on {topic}"
        described = asyncapi_headers(doc, topic)
        listed = set(described["properties"])
        patterns = list(described.get("patternProperties", {}))
        ce_ids = set()
        for msg in records:
            event, headers = as_cloudevent(msg)
            for name in SPEC:
                assert name in headers, f"{topic}: no {name}"
            assert set(described["required"]) <= set(headers), topic
            for name in headers:  # every header is in /asyncapi.json
                assert name in listed or any(re.match(p, name) for p in patterns), (topic, name)
            assert event.get_specversion() == "1.0"
            assert re.fullmatch(r"[a-z]+(\.[a-z_]+)+|unknown", event.get_type()), topic
            assert isinstance(event.get_time(), datetime)
            assert event.get_source() in sources.get(topic, {"urn:tellitonce:hub"}), topic
            ce_ids.add(event.get_id())
        assert len(ce_ids) == len(records), f"{topic}: a ce_id shared by two records"
        seen[topic] = [as_cloudevent(m)[0] for m in records]

    # one naming scheme: ce_type is the event type the record is about, on every topic
    assert {e.get_type() for e in seen["recipient.electoral"]} == {"address.changed"}
    assert {e.get_type() for e in seen[w.names.dead_letters]} == {"death.notified"}
    assert {e.get_type() for e in seen[w.names.deliveries("parking")]} == {"address.changed"}
    assert {e.get_type() for e in seen[w.names.audit]} >= {"address.changed"}
    assert sorted(e.get_type() for e in seen[w.names.rejected]) == [
        "address.changed",
        "death.notified",
    ]
    assert {e.get_dataschema() for e in seen[w.names.audit]} == {
        "urn:tellitonce:schema:audit-entry:v1"
    }
    # the routed delivery's ce_id is the message id the recipient gets (a replay: a new one)
    routed = {e.get_id() for e in seen[w.names.deliveries("electoral")]}
    assert routed == {e.get_id() for e in seen["recipient.electoral"]}
    parking = seen[w.names.deliveries("parking")]
    assert len(parking) == 3 and len({e.get_id() for e in parking}) == 3
    live = {delivery_id(i, "parking", source="council-tax") for i in ids}
    assert not live & {e.get_id() for e in parking}  # three new ids for the replayed ones
    # a rejection keeps the record's own headers, and the recorder read them back
    kept = {r.event_id: r for r in rejected.list(None, None, 10)}
    assert set(kept) == {"evt-env-death", "evt-env-garbage"}
    assert dict(kept["evt-env-death"].headers)["ce_source"] == b"council-tax"
