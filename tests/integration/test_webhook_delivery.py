"""Webhooks through a real `hub run worker` to a real receiver verifying signatures with the
`standardwebhooks` library: retries until a 2xx, per-person order, isolation, 410, dead letters."""

from __future__ import annotations

from pathlib import Path

from hub.audit.store import AuditFilter, AuditRow, AuditStore
from hub.db.engine import make_engine
from hub.delivery.outbox import OutboxStatus, OutboxStore
from hub.events.publisher import EventPublisher
from hub.routing.messages import delivery_id
from hub.settings import HubSettings
from tests.integration.conftest import WorkerProcess
from tests.integration.webhook_receiver import Endpoint, Receiver, make_secret
from tests.integration.webhook_setup import move, webhook_config, webhook_settings
from tests.people import link_events
from tests.waiting import wait_for

SUBJECTS = ("P-1", "P-2", "P-3")


def audit_rows(settings: HubSettings, recipient: str) -> list[AuditRow]:
    store = AuditStore(make_engine(settings.effective_database_url))
    return store.query(AuditFilter(recipient=recipient, limit=10_000))


async def test_retries_until_2xx_every_delivery_once_after_dedup_in_order_and_audited(
    hub_settings: HubSettings, publisher: EventPublisher, tmp_path: Path
) -> None:
    flaky = Endpoint("waste", make_secret("waste"), respond=lambda n: 500 if n <= 6 else 200)
    steady = Endpoint("parking", make_secret("parking"))
    with Receiver([flaky, steady]) as rx:
        config = webhook_config(
            tmp_path / "config", {"waste": rx.url("waste"), "parking": rx.url("parking")}
        )
        settings = await webhook_settings(
            hub_settings, config, {"waste": flaky.secret, "parking": steady.secret}
        )
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        worker.start()
        try:
            for subject in SUBJECTS:
                await publisher.publish_many(link_events(subject))
            events = [
                move(f"evt-{s}-{i}", s, i) for i in range(3) for s in SUBJECTS
            ]  # three moves per person
            await publisher.publish_many(events)
            expected = {
                delivery_id(e.envelope.id, "waste", source=e.envelope.source) for e in events
            }
            wait_for(
                lambda: (
                    flaky.accepted_ids() == expected
                    and steady.accepted_ids()
                    == {
                        delivery_id(e.envelope.id, "parking", source=e.envelope.source)
                        for e in events
                    }
                ),
                lambda: (
                    f"waste {len(flaky.accepted_ids())}, parking {len(steady.accepted_ids())} "
                    f"of {len(expected)}\n" + (tmp_path / "worker.log").read_text()[-3000:]
                ),
                60,
            )
            assert flaky.invalid_signatures == steady.invalid_signatures == 0
            # every request carried the delivery id: de-duplicated, each delivery exactly once
            assert len(flaky.accepted()) == len(expected)
            failed_ids = [r.webhook_id for r in flaky.requests if r.status == 500]
            assert len(failed_ids) == 6 and set(failed_ids) <= expected  # retried, same webhook-id
            # per person, in the order the moves happened
            for s in SUBJECTS:
                lines = [
                    r.body["data"]["new_address"]["lines"][0]
                    for r in flaky.accepted()
                    if r.body["subject"] == s
                ]
                assert lines == ["1 Orchard Close", "2 Orchard Close", "3 Orchard Close"]
            # the audit shows each failed attempt and the final delivered outcome with its attempt
            wait_for(
                lambda: (
                    len([r for r in audit_rows(settings, "waste") if r.outcome == "delivered"])
                    == len(expected)
                ),
                lambda: "delivered audit rows missing",
                30,
            )
            rows = audit_rows(settings, "waste")
            attempts = [r for r in rows if r.outcome == "attempt_failed"]
            wait_for(
                lambda: (
                    len([r for r in audit_rows(settings, "waste") if r.outcome == "attempt_failed"])
                    == 6
                ),
                lambda: f"{len(attempts)} attempt rows",
                30,
            )
            rows = audit_rows(settings, "waste")
            attempts = [r for r in rows if r.outcome == "attempt_failed"]
            assert {r.http_status for r in attempts} == {500}
            assert all(r.attempt and r.latency_ms is not None for r in attempts)
            delivered = [r for r in rows if r.outcome == "delivered"]
            assert {r.http_status for r in delivered} == {200}
            assert max(r.attempt or 0 for r in delivered) >= 2
            # secrets and signatures never in the audit or the logs
            text = (tmp_path / "worker.log").read_text() + "".join(
                r.model_dump_json() for r in rows
            )
            assert flaky.secret not in text and "v1," not in text
        finally:
            assert worker.stop() == 0


async def test_a_hanging_receiver_never_delays_another(
    hub_settings: HubSettings, publisher: EventPublisher, tmp_path: Path
) -> None:
    hung = Endpoint("waste", make_secret("waste"), hang=True)
    healthy = Endpoint("parking", make_secret("parking"))
    with Receiver([hung, healthy]) as rx:
        config = webhook_config(
            tmp_path / "config",
            {"waste": rx.url("waste"), "parking": rx.url("parking")},
            {"waste": "timeout_s: 60"},
        )
        settings = await webhook_settings(
            hub_settings, config, {"waste": hung.secret, "parking": healthy.secret}
        )
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        worker.start()
        try:
            subjects = [f"P-{i}" for i in range(12)]
            for subject in subjects:
                await publisher.publish_many(link_events(subject, ("waste", "parking")))
            events = [move(f"evt-h-{s}", s) for s in subjects]
            await publisher.publish_many(events)
            wait_for(
                lambda: (
                    healthy.accepted_ids()
                    == {
                        delivery_id(e.envelope.id, "parking", source=e.envelope.source)
                        for e in events
                    }
                ),
                lambda: f"parking got {len(healthy.accepted_ids())} of {len(events)}",
                60,
            )
            outbox = OutboxStore(make_engine(settings.effective_database_url))
            waste = outbox.rows("waste")
            assert len(waste) == len(events)  # nothing lost: all queued for the hung recipient
            assert all(r.status is OutboxStatus.PENDING for r in waste)
            assert hung.count() == 0  # its requests are still hanging (none answered)
        finally:
            if worker.proc is not None:
                worker.proc.kill()


async def test_410_disables_the_endpoint_and_keeps_deliveries_pending(
    hub_settings: HubSettings, publisher: EventPublisher, tmp_path: Path
) -> None:
    gone = Endpoint("waste", make_secret("waste"), respond=lambda n: 410)
    with Receiver([gone]) as rx:
        config = webhook_config(tmp_path / "config", {"waste": rx.url("waste")})
        settings = await webhook_settings(hub_settings, config, {"waste": gone.secret})
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        worker.start()
        try:
            await publisher.publish_many(link_events("P-1", ("waste",)))
            await publisher.publish_many([move(f"evt-g-{i}", "P-1", i) for i in range(3)])
            outbox = OutboxStore(make_engine(settings.effective_database_url))
            wait_for(
                lambda: outbox.endpoint("waste").disabled_at is not None,
                lambda: "endpoint not disabled",
                30,
            )
            wait_for(lambda: len(outbox.rows("waste")) == 3, lambda: "not queued", 30)
            assert gone.count() == 1  # no more requests once disabled
            assert {r.status for r in outbox.rows("waste")} == {OutboxStatus.PENDING}
            assert "alert_webhook_endpoint_disabled" in (tmp_path / "worker.log").read_text()
        finally:
            assert worker.stop() == 0
