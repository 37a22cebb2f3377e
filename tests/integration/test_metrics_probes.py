"""/metrics and the probes of a real API process on the embedded broker and SQLite.

Counters never fall (a purge included), an ingest 422 is a counted rejection, a scrape opens no
Kafka connection and runs no query, and /readyz follows the broker and database, not a worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiokafka.client
import httpx
import pytest
from aiokafka import ConsumerRecord
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from agents.audit_writer import AuditWriterHandler
from hub.api.health import Probes
from hub.audit.checkpoint import CheckpointStore
from hub.audit.retention import purge_before
from hub.audit.store import AuditRow, AuditStore
from hub.broker.admin import broker_reachable, ensure_topics
from hub.broker.embedded import EmbeddedBroker, free_port
from hub.broker.producer import AiokafkaSender, make_producer
from hub.broker.topics import TopicNames
from hub.db.engine import make_engine
from hub.events.publisher import EventPublisher
from hub.routing.messages import AuditEntry, Outcome, delivery_id
from hub.secrets import audit_signer, audit_verifier
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from hub.signing.records import RecordKeys
from hub.timeutil import utcnow
from runtime.api import create_app
from runtime.wiring import open_stores, wire
from tests.integration.conftest import WorkerProcess
from tests.integration.test_flow import move
from tests.people import LINKER, link_bodies, link_events
from tests.unit.test_metrics_conventions import convention_problems
from tests.waiting import wait_for

LINKER_KEY = {"Authorization": f"Bearer demo-{LINKER}-key"}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(response.text)
        for s in f.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def api_settings(hub_settings: HubSettings) -> HubSettings:
    asyncio.run(ensure_topics(hub_settings, wire(hub_settings).topics()))
    open_stores(hub_settings, schema="create").engine.dispose()  # the API needs a hub database
    return hub_settings.model_copy(
        update={"metrics_refresh_interval_s": 0.2, "readiness_check_interval_s": 0.2}
    )


@pytest.fixture
def client(api_settings: HubSettings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as c:
        yield c


def _probes(client: TestClient) -> Probes:
    probes: Probes = client.app.state.probes  # type: ignore[attr-defined]
    return probes


def _audit_entries(n: int) -> list[AuditEntry]:
    at = utcnow()
    out = []
    for i in range(n):
        did = delivery_id(f"evt-{i}", "waste", source="council-tax")
        out.append(
            AuditEntry(
                entry_id=AuditEntry.make_id(did, Outcome.DELIVERED),
                delivery_id=did,
                event_id=f"evt-{i}",
                event_type="address.changed",
                source="council-tax",
                recipient="waste",
                subject_key=f"{i:064x}",
                outcome=Outcome.DELIVERED,
                event_time=at,
                decided_at=at,
            )
        )
    return out


def _records(entries: list[AuditEntry], keys: RecordKeys) -> list[ConsumerRecord[bytes, bytes]]:
    """Audit entries as the hub puts them on the audit topic: signed."""
    out = []
    for i, e in enumerate(entries):
        value = e.model_dump_json().encode()
        headers = tuple(keys.sign_headers("audit", None, value, ()))
        out.append(
            ConsumerRecord(
                topic="audit", partition=0, offset=i, timestamp=0, timestamp_type=0, key=None,
                value=value, checksum=None, serialized_key_size=0,
                serialized_value_size=len(value), headers=headers,
            )
        )  # fmt: skip
    return out


def test_counters_follow_the_conventions_and_never_fall_after_a_purge(
    client: TestClient, api_settings: HubSettings
) -> None:
    body = link_bodies("P-METRICS-1", ("waste",))[0]
    assert client.post("/v1/events", json=body, headers=LINKER_KEY).status_code == 202
    # the worker's audit writer appends rows (and counts them) in this same process
    engine = make_engine(api_settings.effective_database_url)
    keys = record_keys(api_settings)
    deps = SimpleNamespace(keys=keys, names=TopicNames())
    writer = AuditWriterHandler(deps, AuditStore(engine))  # type: ignore[arg-type]
    asyncio.run(writer(_records(_audit_entries(5), keys)))
    wait_for(lambda: value(samples(client), "hub_audit_chain_head_seq") == 5, what="the chain head")
    before = samples(client)
    assert (
        value(before, "hub_audit_rows_written_total", recipient="waste", outcome="delivered") >= 5
    )
    assert value(before, "hub_audit_latency_seconds_count") >= 5
    assert value(before, "hub_ingest_published_total", source=LINKER, type="person.linked") >= 1
    families = list(text_string_to_metric_families(client.get("/metrics").text))
    assert convention_problems(families) == []

    result = purge_before(
        CheckpointStore(engine, audit_verifier(api_settings), audit_signer(api_settings)),
        utcnow() + timedelta(days=1),
        utcnow(),
    )
    assert result.deleted == 5
    refreshed = _probes(client).gauges
    assert refreshed is not None
    at = refreshed.refresh_state.at
    wait_for(lambda: refreshed.refresh_state.at > at, what="a refresh after the purge")
    after = samples(client)
    fallen = {
        key: (v, after.get(key, 0.0))
        for key, v in before.items()
        if key[0].endswith("_total") and after.get(key, 0.0) < v
    }
    assert fallen == {}
    assert value(after, "hub_audit_chain_head_seq") == 5  # the head does not go back either
    engine.dispose()


def test_an_ingest_422_counts_as_a_rejection(client: TestClient) -> None:
    labels = {"source": LINKER, "type": "person.linked"}
    before = samples(client)
    bad = {**link_bodies("P-METRICS-2", ("waste",))[0], "data": {"system": "waste"}}
    response = client.post("/v1/events", json=bad, headers=LINKER_KEY)
    assert response.status_code == 422, response.text
    rule = response.json()["error"]["problems"][0]["rule"]
    after = samples(client)
    key = {**labels, "reason": rule}
    assert value(after, "hub_events_rejected_total", **key) == (
        value(before, "hub_events_rejected_total", **key) + 1
    )
    route = {"method": "POST", "route": "/v1/events", "status": "422"}
    assert value(after, "hub_http_requests_total", **route) == (
        value(before, "hub_http_requests_total", **route) + 1
    )


def test_a_scrape_opens_no_kafka_connection_and_reads_the_cached_gauges(
    client: TestClient, api_settings: HubSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    probes = _probes(client)
    cache, monitor = probes.gauges, probes.monitor
    assert cache is not None and monitor is not None
    wait_for(lambda: cache.gauges is not None and cache.gauges.lag is not None, what="gauges")
    cache.interval_s = 3600  # after the refresh under way, no other until the test ends
    at = cache.refresh_state.at
    wait_for(lambda: cache.refresh_state.at > at, what="the last refresh")
    opened = monitor.opened
    connections: list[object] = []
    real = aiokafka.client.create_conn

    async def counting(*args: Any, **kwargs: Any) -> Any:
        connections.append(args)
        return await real(*args, **kwargs)

    monkeypatch.setattr(aiokafka.client, "create_conn", counting)
    reads = 0
    read_db = cache.read_db

    def counting_read() -> Any:
        nonlocal reads
        reads += 1
        return read_db()

    cache.read_db = counting_read
    for _ in range(20):
        found = samples(client)
    assert reads == 0 and connections == [] and monitor.opened == opened
    assert cache.gauges is not None
    assert value(found, "hub_audit_chain_head_seq") == cache.gauges.chain_head
    assert value(found, "hub_workers_live") == cache.gauges.workers_live
    # the count does see a client that connects (what the old /metrics did three times a scrape)
    assert asyncio.run(broker_reachable(api_settings))
    assert connections


def test_readyz_is_ready_without_a_worker_and_not_when_the_broker_stops(
    client: TestClient, broker: EmbeddedBroker
) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["checks"] == {"broker": True, "database": True}
    assert body["workers"]["live"] == 0  # no worker runs: still ready, Kafka keeps the events
    assert client.get("/livez").json() == {"status": "alive"}

    broker.stop()
    down = wait_for(
        lambda: (r := client.get("/readyz")).status_code == 503 and r, what="/readyz to say 503"
    )
    reasons = down.json()["reasons"]
    assert "Kafka" in reasons["broker"] and broker.bootstrap in reasons["broker"]
    assert client.get("/livez").status_code == 200  # alive, only not ready


@pytest.fixture
def worker_port() -> int:
    return free_port()


@pytest.fixture
def metered_settings(hub_settings: HubSettings, worker_port: int) -> HubSettings:
    return hub_settings.model_copy(update={"worker_metrics_port": worker_port})


async def test_a_worker_serves_its_own_counters_on_its_metrics_port(
    metered_settings: HubSettings,
    worker_port: int,
    tmp_path: Path,
    wait_audit: Callable[..., list[AuditRow]],
) -> None:
    settings = metered_settings
    w = wire(settings)
    await ensure_topics(settings, w.topics())
    open_stores(settings, schema="create").engine.dispose()  # migrated
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    worker.start()
    try:
        producer = make_producer(settings, settings.kafka_bootstrap)
        await producer.start()
        publisher = EventPublisher(
            AiokafkaSender(producer), w.codec, w.names, keys=record_keys(settings)
        )
        for link in link_events("P-METRICS-9"):
            await publisher.publish(link)
        await publisher.publish(move("evt-metrics-1", "P-METRICS-9"))
        topic = w.names.events("address.changed")
        plain = [("ce_source", b"council-tax"), ("ce_type", b"address.changed")]
        # signed by the hub (as the API would), but its body does not decode
        await producer.send_and_wait(
            topic, b"not avro", key=b"P-9",
            headers=record_keys(settings).sign_headers(topic, b"P-9", b"not avro", plain),
        )  # fmt: skip
        await producer.stop()
        wait_audit(["evt-metrics-1"], expected=5)

        def scraped() -> Samples:
            text = httpx.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=5).text
            return {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(text)
                for s in f.samples
            }

        def counted() -> Samples | None:
            found = scraped()
            done = value(
                found, "hub_audit_rows_written_total", recipient="waste", outcome="delivered"
            )
            rejected = value(
                found, "hub_events_rejected_total",
                source="council-tax", type="address.changed", reason="decode",
            )  # fmt: skip
            return found if done >= 1 and rejected >= 1 else None

        found = wait_for(counted, what="the worker's counters")
        accepted = value(
            found, "hub_events_accepted_total", source="council-tax", type="address.changed"
        )
        assert accepted >= 1
        assert value(found, "hub_deliveries_routed_total", recipient="waste") >= 1
        assert value(found, "hub_agent_records_total", agent="router") >= 1
        assert value(found, "hub_agent_batch_duration_seconds_count", agent="audit-writer") >= 1
        assert value(found, "hub_audit_latency_seconds_count") >= 5
        text = httpx.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=5).text
        assert convention_problems(list(text_string_to_metric_families(text))) == []
    finally:
        assert worker.stop() == 0
