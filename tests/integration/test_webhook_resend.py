"""Re-sends receivers can reason about: a receiver that de-duplicates on `webhook-id` (verified
with the `standardwebhooks` library) drops a retry of the same message but applies a replay,
which is a new message carrying `original_delivery_id` and `mode`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hub.broker.producer import AiokafkaSender, make_producer
from hub.db.engine import make_engine
from hub.events.publisher import EventPublisher
from hub.journal.store import JournalStore
from hub.routing.messages import delivery_id
from hub.routing.originals import AuditOriginals
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from hub.subjects.store import SubjectStore
from hub.timeutil import utcnow
from runtime.replay import replay_for
from runtime.wiring import wire
from tests.integration.conftest import WorkerProcess
from tests.integration.webhook_receiver import Endpoint, Receiver, make_secret
from tests.integration.webhook_setup import move, webhook_config, webhook_settings
from tests.people import link_events
from tests.waiting import wait_for


class DedupingReceiver:
    """What the receiving system does with each verified request: apply it unless its
    webhook-id was applied before (the recipe in docs/receiving.md)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.applied: list[dict[str, object]] = []

    def take(self, endpoint: Endpoint) -> None:
        for received in endpoint.accepted():
            if received.webhook_id in self.seen:
                continue
            self.seen.add(received.webhook_id)
            self.applied.append(received.body)


async def test_a_receiver_deduplicating_on_webhook_id_drops_retries_and_applies_a_replay(
    hub_settings: HubSettings, tmp_path: Path
) -> None:
    # the first attempt fails: the retry must carry the same webhook-id
    waste = Endpoint("waste", make_secret("waste"), respond=lambda n: 500 if n == 1 else 200)
    with Receiver([waste]) as rx:
        config = webhook_config(tmp_path / "config", {"waste": rx.url("waste")})
        settings = await webhook_settings(hub_settings, config, {"waste": waste.secret})
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        worker.start()
        engine = make_engine(settings.effective_database_url)
        producer = make_producer(settings, settings.kafka_bootstrap)
        await producer.start()
        w = wire(settings)
        publisher = EventPublisher(
            AiokafkaSender(producer),
            w.codec,
            w.names,
            JournalStore(engine),
            keys=record_keys(settings),
        )
        try:
            await publisher.publish_many(link_events("P-31", ("waste",)))
            await publisher.publish(move("evt-resend-1", "P-31"))
            original = delivery_id("evt-resend-1", "waste", source="council-tax")
            wait_for(lambda: len(waste.accepted()) == 1, lambda: f"{waste.requests}", 30)
            first, retry = waste.requests[0], waste.requests[1]
            assert first.status == 500 and retry.webhook_id == first.webhook_id == original
            assert retry.body["mode"] == "live" and retry.body["original_delivery_id"] is None

            summary = await replay_for(
                settings,
                settings.kafka_bootstrap,
                wire(settings),
                JournalStore(engine),
                SubjectStore(engine),
                AuditOriginals(engine),
                "waste",
                datetime(2026, 1, 1, tzinfo=UTC),
                "address.changed",
                utcnow(),
            )
            assert summary.delivered == 1
            wait_for(lambda: len(waste.accepted()) == 2, lambda: f"{waste.requests}", 30)

            receiver = DedupingReceiver()
            receiver.take(waste)
            receiver.take(waste)  # the same requests seen again change nothing
            assert [b["mode"] for b in receiver.applied] == ["live", "replay"]
            replay = receiver.applied[1]
            assert replay["delivery_id"] != original
            assert replay["original_delivery_id"] == original
            assert replay["event_id"] == "evt-resend-1"
            assert "subject_key" not in replay and "decided_at" not in replay
        finally:
            await producer.stop()
            assert worker.stop() == 0
