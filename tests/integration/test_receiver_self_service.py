"""A receiving system helps itself over HTTP with its own key (only its own id): its endpoint
state and re-enabling, its dead letters and a redrive, a replay, a signed test ping; each
action is in the audit access log."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.broker.producer import AiokafkaSender, make_producer
from hub.db.engine import make_engine
from hub.db.tables import AuditAccessLog
from hub.delivery.outbox import OutboxStore
from hub.events.publisher import EventPublisher
from hub.journal.store import JournalStore
from hub.routing.messages import delivery_id
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from hub.timeutil import utcnow
from runtime.api import create_app
from runtime.wiring import wire
from tests.integration.conftest import WorkerProcess
from tests.integration.webhook_receiver import Endpoint, Receiver, make_secret
from tests.integration.webhook_setup import move, webhook_config, webhook_settings
from tests.people import link_events
from tests.waiting import wait_for

WASTE = {"Authorization": "Bearer demo-waste-key"}
PARKING = {"Authorization": "Bearer demo-parking-key"}  # an inbox recipient here
SOURCE = {"Authorization": "Bearer demo-council-tax-key"}


async def test_a_receiver_sees_its_endpoint_redrives_replays_and_pings_with_its_own_key(
    hub_settings: HubSettings, tmp_path: Path
) -> None:
    broken = {"on": True}
    waste = Endpoint("waste", make_secret("waste"), respond=lambda n: 500 if broken["on"] else 200)
    with Receiver([waste]) as rx:
        config = webhook_config(tmp_path / "config", {"waste": rx.url("waste")})
        settings = await webhook_settings(
            hub_settings, config, {"waste": waste.secret}, schedule=(0.1, 0.1)
        )
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
        outbox = OutboxStore(engine)
        original = delivery_id("evt-self-1", "waste", source="council-tax")
        try:
            await publisher.publish_many(link_events("P-51", ("waste",)))
            await publisher.publish(move("evt-self-1", "P-51"))
            wait_for(lambda: len(outbox.dead("waste")) == 1, lambda: f"{waste.requests}", 60)
        finally:
            await producer.stop()
        try:
            with TestClient(create_app(settings), raise_server_exceptions=False) as api:
                # scope: only a recipient, only its own webhook
                assert api.get("/v1/receiver/endpoint", headers=SOURCE).status_code == 403
                missing = api.get("/v1/receiver/endpoint", headers=PARKING)
                assert missing.status_code == 404
                assert missing.json()["error"]["code"] == "not_found"
                assert api.get("/v1/receiver/endpoint").status_code == 401

                [dead] = api.get("/v1/receiver/dead-letters", headers=WASTE).json()
                assert dead["delivery_id"] == original and dead["attempts"] == 3
                assert api.get("/v1/receiver/dead-letters", headers=PARKING).status_code == 404

                # the endpoint was disabled (a 410), the receiver fixed it and enables it
                outbox.set_endpoint("waste", utcnow(), "the endpoint answered 410 Gone", utcnow())
                state = api.get("/v1/receiver/endpoint", headers=WASTE).json()
                assert state["enabled"] is False and "410" in state["reason"]
                assert state["dead"] == 1
                broken["on"] = False
                enabled = api.post("/v1/receiver/endpoint/enable", headers=WASTE).json()
                assert enabled["enabled"] is True

                redriven = api.post("/v1/receiver/dead-letters/redrive", headers=WASTE)
                assert redriven.json() == {"requeued": 1, "withheld": 0}, redriven.text
                wait_for(lambda: len(waste.accepted()) == 1, lambda: f"{waste.requests}", 30)
                body = waste.accepted()[0].body
                assert body["mode"] == "redrive" and body["original_delivery_id"] == original

                ping = api.post("/v1/receiver/ping", headers=WASTE).json()
                assert ping["delivered"] is True and ping["http_status"] == 200
                assert waste.invalid_signatures == 0
                pinged = [r for r in waste.accepted() if r.body.get("type") == "hub.ping"]
                assert [r.webhook_id for r in pinged] == [ping["webhook_id"]]

                replay = api.post(
                    "/v1/receiver/replay",
                    headers=WASTE,
                    json={"since": "2026-01-01T00:00:00Z", "type": "address.changed"},
                )
                assert replay.status_code == 200, replay.text
                assert replay.json()["delivered"] == 1
                wait_for(
                    lambda: any(r.body.get("mode") == "replay" for r in waste.accepted()),
                    lambda: f"{waste.requests}",
                    30,
                )
                # a date range: nothing was accepted in January
                january = {"since": "2026-01-01T00:00:00Z", "until": "2026-01-31T00:00:00Z"}
                none = api.post("/v1/receiver/replay", headers=WASTE, json=january)
                assert none.json() == {"considered": 0, "delivered": 0, "withheld": 0}
                backwards = {"since": "2026-01-31T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
                inverted = api.post("/v1/receiver/replay", headers=WASTE, json=backwards)
                assert inverted.status_code == 400
                bad = api.post(
                    "/v1/receiver/replay",
                    headers=WASTE,
                    json={"since": "2026-01-01T00:00:00Z", "type": "nope"},
                )
                assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
            table = AuditAccessLog.__table__  # type: ignore[attr-defined]
            with engine.connect() as conn:
                logged = [
                    (r.actor, r.what, r.via)
                    for r in conn.execute(select(table).where(table.c.actor == "waste"))
                ]
            whats = {what for _, what, via in logged if via == "api"}
            assert {
                "endpoint_read",
                "endpoint_enable",
                "dead_letters_read",
                "dead_letters_redrive",
                "ping",
                "replay",
            } <= whats
        finally:
            assert worker.stop() == 0
