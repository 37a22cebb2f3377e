"""The hub's Kafka clients over TLS and SASL on the embedded broker's secure mode.

Admin (topic creation), producer, a batch agent's consumer and the whole faust worker reach a
broker that requires TLS with a client certificate and SASL SCRAM-SHA-512; each SASL mechanism
works; wrong credentials, an untrusted CA or the wrong protocol fail fast with a BrokerError
that names what to fix.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from agents.batching import make_consumer
from hub.audit.store import AuditRow
from hub.broker.admin import broker_reachable, ensure_topics
from hub.broker.embedded import BrokerTls, EmbeddedBroker
from hub.broker.producer import AiokafkaSender, make_producer, start_producer
from hub.broker.topics import TopicSpec
from hub.db.engine import make_engine
from hub.errors import BrokerError
from hub.events.publisher import EventPublisher
from hub.inbox.store import InboxStore
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from runtime.wiring import open_stores, wire
from tests.conftest import SecureBroker
from tests.integration.conftest import WorkerProcess
from tests.integration.test_flow import move
from tests.people import link_events
from tests.tls_certs import TlsFiles

TOPIC = TopicSpec("security.check", 2, 1)


async def round_trip(settings: HubSettings) -> bytes:
    """Create a topic, produce one record, read it back with a batch agent's consumer."""
    await ensure_topics(settings, [TOPIC], timeout=20)
    producer = make_producer(settings, settings.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(TOPIC.name, b"over-tls", key=b"k")
    finally:
        await producer.stop()
    consumer = make_consumer(settings, "security-check", [TOPIC.name])
    await consumer.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    assert record.value is not None
                    return record.value
        raise AssertionError("the record did not come back within 20 s")
    finally:
        await consumer.stop()


@pytest.fixture
def secure_settings(secure_broker: SecureBroker, settings: HubSettings) -> HubSettings:
    return secure_broker.settings(settings)


async def test_producer_admin_and_batch_consumer_over_tls_with_client_cert_and_scram(
    secure_settings: HubSettings,
) -> None:
    assert await round_trip(secure_settings) == b"over-tls"
    assert await broker_reachable(secure_settings)


def test_worker_routes_an_event_over_tls_and_scram(
    secure_broker: SecureBroker,
    secure_settings: HubSettings,
    tmp_path: Path,
    wait_audit: Callable[..., list[AuditRow]],
) -> None:
    """`hub run worker` (the faust app, its batch agents and producers) with only HUB_* settings."""
    worker_settings = secure_broker.settings(secure_settings, user="hub-worker")
    asyncio.run(ensure_topics(worker_settings, wire(worker_settings).topics()))
    open_stores(worker_settings, schema="create").engine.dispose()  # migrated
    worker = WorkerProcess(worker_settings, tmp_path / "worker.log")
    worker.start()  # ready: every batch agent holds partitions (it joined its group over SASL_SSL)
    try:

        async def publish() -> None:
            api_settings = secure_broker.settings(secure_settings, user="hub-api")
            w = wire(api_settings)
            producer = await start_producer(api_settings)
            try:
                publisher = EventPublisher(
                    AiokafkaSender(producer), w.codec, w.names, keys=record_keys(api_settings)
                )
                await publisher.publish_many(link_events("P-100234"))
                await publisher.publish(move("evt-secure-1"))
            finally:
                await producer.stop()

        asyncio.run(publish())
        rows = wait_audit(["evt-secure-1"], expected=5, timeout=60)
        assert {r.recipient for r in rows if r.outcome == "delivered"} >= {"waste", "parking"}
        inbox = InboxStore(make_engine(secure_settings.effective_database_url))
        assert [e.delivery.event_id for e in inbox.fetch("parking", 0, 10)] == ["evt-secure-1"]
    finally:
        assert worker.stop() == 0


@pytest.fixture
def hub_settings(secure_settings: HubSettings) -> HubSettings:
    """wait_audit (integration conftest) reads the database of these settings."""
    return secure_settings


@pytest.fixture
def sasl_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """SASL over plaintext, every mechanism offered."""
    with EmbeddedBroker(log_file=tmp_path / "sasl.log", users={"svc": "svc-secret"}) as b:
        yield b


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_each_sasl_mechanism_authenticates(
    sasl_broker: EmbeddedBroker, settings: HubSettings, mechanism: str
) -> None:
    secured = settings.model_copy(
        update={
            "kafka_bootstrap": sasl_broker.bootstrap,
            "kafka_security_protocol": "SASL_PLAINTEXT",
            "kafka_sasl_mechanism": mechanism,
            "kafka_sasl_username": "svc",
            "kafka_sasl_password": SecretStr("svc-secret"),
        }
    )
    await ensure_topics(secured, [TOPIC], timeout=10)
    assert await broker_reachable(secured)


async def test_tls_without_client_certificate(
    tmp_path: Path, tls_files: TlsFiles, settings: HubSettings
) -> None:
    with EmbeddedBroker(
        log_file=tmp_path / "tls.log", tls=BrokerTls(tls_files.server_cert, tls_files.server_key)
    ) as tls_broker:
        secured = settings.model_copy(
            update={
                "kafka_bootstrap": tls_broker.bootstrap,
                "kafka_security_protocol": "SSL",
                "kafka_ssl_ca_file": tls_files.ca_file,
            }
        )
        assert await round_trip(secured) == b"over-tls"


async def refused(settings: HubSettings, limit_s: float = 15.0) -> str:
    """ensure_topics fails with a BrokerError within `limit_s`; its message."""
    started = time.monotonic()
    with pytest.raises(BrokerError) as caught:
        await ensure_topics(settings, [TOPIC], timeout=3)
    assert time.monotonic() - started < limit_s
    return str(caught.value)


async def test_wrong_password_and_unknown_user_are_clear_errors(
    secure_settings: HubSettings,
) -> None:
    wrong = secure_settings.model_copy(update={"kafka_sasl_password": SecretStr("guess")})
    message = await refused(wrong)
    assert "refused the SASL credentials" in message
    assert "HUB_KAFKA_SASL_PASSWORD" in message
    assert "guess" not in message

    nobody = secure_settings.model_copy(update={"kafka_sasl_username": "nobody"})
    assert "refused the SASL credentials" in await refused(nobody)

    with pytest.raises(BrokerError, match="refused the SASL credentials"):
        await start_producer(wrong, timeout=5)


async def test_untrusted_ca_and_missing_client_certificate_are_clear_errors(
    secure_settings: HubSettings, tls_files: TlsFiles
) -> None:
    untrusted = secure_settings.model_copy(update={"kafka_ssl_ca_file": tls_files.other_ca_file})
    message = await refused(untrusted)
    assert "not trusted" in message and "HUB_KAFKA_SSL_CA_FILE" in message

    no_client_cert = secure_settings.model_copy(
        update={"kafka_ssl_cert_file": None, "kafka_ssl_key_file": None}
    )
    message = await refused(no_client_cert)
    assert "HUB_KAFKA_SSL_CERT_FILE" in message


async def test_wrong_security_protocol_fails_fast_not_hangs(
    broker: EmbeddedBroker, secure_settings: HubSettings, settings: HubSettings
) -> None:
    # a TLS client on a plaintext listener: the broker waits for a frame that never ends
    tls_on_plain = secure_settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
    message = await refused(tls_on_plain)
    assert "HUB_KAFKA_SECURITY_PROTOCOL" in message

    # a plaintext client on the TLS+SASL listener
    plain_on_tls = settings.model_copy(update={"kafka_bootstrap": secure_settings.kafka_bootstrap})
    message = await refused(plain_on_tls)
    assert "HUB_KAFKA_SECURITY_PROTOCOL" in message


async def test_a_mechanism_the_broker_does_not_offer_is_a_clear_error(
    tmp_path: Path, settings: HubSettings
) -> None:
    with EmbeddedBroker(
        log_file=tmp_path / "scram-only.log", users={"svc": "pw"}, mechanisms=("SCRAM-SHA-512",)
    ) as scram_only:
        plain = settings.model_copy(
            update={
                "kafka_bootstrap": scram_only.bootstrap,
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_sasl_mechanism": "PLAIN",
                "kafka_sasl_username": "svc",
                "kafka_sasl_password": SecretStr("pw"),
            }
        )
        message = await refused(plain)
        assert "does not offer SASL PLAIN" in message
        assert "HUB_KAFKA_SASL_MECHANISM" in message
