"""Dead letters after the retry budget, listed by `hub deliveries dead`; a redrive re-checks the
policy in force now: an agreement that has since expired means withheld (audited, mode redrive),
one still in force sends again (re-minimised, mode redrive)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from hub.audit.store import AuditFilter, AuditStore
from hub.db.engine import make_engine
from hub.delivery.outbox import OutboxStatus, OutboxStore
from hub.events.publisher import EventPublisher
from hub.routing.messages import delivery_id
from hub.settings import HubSettings
from runtime.redrive import redrive
from runtime.stack import settings_env
from tests.integration.conftest import WorkerProcess
from tests.integration.webhook_receiver import Endpoint, Receiver, make_secret
from tests.integration.webhook_setup import move, webhook_config, webhook_settings
from tests.people import link_events
from tests.waiting import wait_for


async def test_dead_letters_then_redrive_withholds_under_an_expired_agreement(
    hub_settings: HubSettings, publisher: EventPublisher, tmp_path: Path
) -> None:
    broken = {"on": True}
    waste = Endpoint("waste", make_secret("waste"), respond=lambda n: 500 if broken["on"] else 200)
    parking = Endpoint(
        "parking", make_secret("parking"), respond=lambda n: 503 if broken["on"] else 200
    )
    with Receiver([waste, parking]) as rx:
        config = webhook_config(
            tmp_path / "config", {"waste": rx.url("waste"), "parking": rx.url("parking")}
        )
        settings = await webhook_settings(
            hub_settings,
            config,
            {"waste": waste.secret, "parking": parking.secret},
            schedule=(0.1, 0.1),
        )
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        worker.start()
        try:
            await publisher.publish_many(link_events("P-7", ("waste", "parking")))
            events = [move("evt-dl-1", "P-7", 0), move("evt-dl-2", "P-7", 1)]
            await publisher.publish_many(events)
            outbox = OutboxStore(make_engine(settings.effective_database_url))
            wait_for(
                lambda: len(outbox.dead()) == 4,
                lambda: (
                    f"{len(outbox.dead())} dead letters\n"
                    + (tmp_path / "worker.log").read_text()[-2000:]
                ),
                60,
            )
            assert waste.count() == parking.count() == 6  # three attempts per delivery, no more
            dead = {(r.recipient, r.event_id) for r in outbox.dead()}
            assert dead == {(r, e.envelope.id) for r in ("waste", "parking") for e in events}

            audit = AuditStore(make_engine(settings.effective_database_url))

            def rows(outcome: str) -> list[str]:
                found = audit.query(AuditFilter(outcome=outcome, limit=1000))
                return sorted(f"{r.recipient}:{r.event_id}:{r.attempt}" for r in found)

            wait_for(lambda: len(rows("failed")) == 4, lambda: f"failed: {rows('failed')}", 30)
            assert len(rows("attempt_failed")) == 12
            assert rows("failed")[0] == "parking:evt-dl-1:3"

            # the dead letter topic holds them too
            consumer = AIOKafkaConsumer(
                settings_topic := "dead-letters.deliveries",
                bootstrap_servers=settings.kafka_bootstrap,
                auto_offset_reset="earliest",
                group_id="test-dead",
            )
            await consumer.start()
            try:
                got = await consumer.getmany(timeout_ms=5000)
                letters = [m for batch in got.values() for m in batch]
                assert len(letters) == 4, settings_topic
                # the same CloudEvents envelope as the recipient topics, keyed by the person
                for letter in letters:
                    headers = {k: v.decode() for k, v in letter.headers}
                    assert letter.key == b"P-7"
                    assert headers["ce_type"] == "address.changed"
                    assert headers["ce_specversion"] == "1.0"
                    assert headers["ce_subject"] == "P-7"
                    assert headers["ce_recipient"] in ("waste", "parking")
                    assert headers["content-type"] == "application/json"
                    assert "subject_key" not in (letter.value or b"").decode()
            finally:
                await consumer.stop()

            # `hub deliveries dead` lists them
            listing = subprocess.run(
                [sys.executable, "-m", "cli", "deliveries", "dead", "--recipient", "waste"],
                env=settings_env(settings),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert listing.returncode == 0, listing.stderr
            assert "2 dead letters" in listing.stdout
            assert delivery_id("evt-dl-1", "waste", source="council-tax") in listing.stdout

            # DSA-001 (waste) has since expired; DSA-003 (parking) is still in force
            dsa1 = config / "agreements" / "DSA-001-waste-address.yaml"
            dsa1.write_text(
                dsa1.read_text().replace("valid_until: 2028-12-31", "valid_until: 2026-01-31")
            )
            broken["on"] = False
            summary = await redrive(settings, settings.kafka_bootstrap, None)
            assert (summary.requeued, summary.withheld) == (2, 2)

            originals = {
                delivery_id(e.envelope.id, "parking", source=e.envelope.source) for e in events
            }
            wait_for(
                lambda: originals <= {r.body["original_delivery_id"] for r in parking.accepted()},
                lambda: "parking redrive not delivered",
                30,
            )
            # a redrive is a new message (a receiver de-duplicating on webhook-id applies it)
            for received in parking.accepted():
                assert received.body["mode"] == "redrive"
                assert received.webhook_id == received.body["delivery_id"]
                assert received.webhook_id not in originals
            assert waste.accepted_ids() == set()
            statuses = {
                (r.recipient, r.status) for r in outbox.rows("waste") + outbox.rows("parking")
            }
            wait_for(
                lambda: {r.status for r in outbox.rows("parking")} == {OutboxStatus.DELIVERED},
                lambda: f"{statuses}",
                30,
            )
            assert {r.status for r in outbox.rows("waste")} == {OutboxStatus.WITHHELD}
            assert outbox.dead() == []

            def redrive_rows() -> list[tuple[str, str, str]]:
                found = audit.query(AuditFilter(limit=1000))
                return sorted(
                    (r.recipient, r.outcome, ",".join(r.reason_codes))
                    for r in found
                    if r.mode == "redrive" and r.outcome in ("withheld", "delivered")
                )

            wait_for(lambda: len(redrive_rows()) == 4, lambda: f"{redrive_rows()}", 30)
            assert redrive_rows() == [
                ("parking", "delivered", ""),
                ("parking", "delivered", ""),
                ("waste", "withheld", "agreement_expired"),
                ("waste", "withheld", "agreement_expired"),
            ]
            redriven = [r for r in parking.accepted()]
            assert all(r.body["mode"] == "redrive" for r in redriven)
            assert all(set(r.body["data"]) <= {"effective_date", "new_address"} for r in redriven)
        finally:
            assert worker.stop() == 0
