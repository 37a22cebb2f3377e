"""One webhook attempt at a time, in process (real HTTP on loopback, real SQLite outbox, a
recording producer): Retry-After, timeouts, redirects, the SSRF guard, the retry budget."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from agents.app import WorkerDeps
from agents.webhook_dispatcher import RecipientLoop, WebhookDispatcher
from hub.config.model import HubConfig, Role, System, WebhookSink
from hub.db.engine import make_engine, migrate
from hub.delivery.outbox import EndpointState, OutboxStatus, OutboxStore
from hub.routing.messages import AuditEntry
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from hub.timeutil import utcnow
from runtime.wiring import wire
from tests.integration.test_webhook_outbox import dlv
from tests.integration.webhook_receiver import make_secret

SECRET = make_secret("waste")


@dataclass
class RecordingProducer:
    sent: list[tuple[str, bytes]] = field(default_factory=list)

    async def send(self, topic: str, value: bytes, **_: Any) -> asyncio.Future[None]:
        self.sent.append((topic, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def audit(self) -> list[AuditEntry]:
        return [AuditEntry.model_validate_json(v) for t, v in self.sent if t == "audit"]


@pytest.fixture
def outbox(settings: HubSettings) -> Iterator[OutboxStore]:
    engine = make_engine(settings.effective_database_url)
    migrate(engine)
    yield OutboxStore(engine)
    engine.dispose()


async def serve(handler: Any) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/hook"


def dispatcher_for(
    settings: HubSettings,
    outbox: OutboxStore,
    url: str,
    allow_private: bool = True,
    secrets: tuple[str, ...] = (SECRET,),
    **sink: Any,
) -> WebhookDispatcher:
    settings = settings.model_copy(
        update={
            "webhook_secrets": {"waste": [SecretStr(s) for s in secrets]} if secrets else {},
            "webhook_retry_schedule_s": (1.0, 2.0),
            "webhook_retry_jitter": 0.0,
        }
    )
    w = wire(settings)
    webhook = WebhookSink(kind="webhook", url=url, allow_private=True, **sink)
    system = System(
        id="waste",
        name="Waste",
        roles=frozenset({Role.RECIPIENT}),
        api_key_sha256="0" * 64,
        delivery=webhook,
    )
    # `hub config check` refuses a literal loopback URL without allow_private; the copy
    # stands for a name that resolves to loopback only when the webhook is sent
    system = system.model_copy(
        update={"delivery": webhook.model_copy(update={"allow_private": allow_private})}
    )
    deps = WorkerDeps(
        settings,
        HubConfig(systems=(system,), agreements=()),
        w.codec,
        w.names,
        w.registry.event_types,
        w.rules,
        record_keys(settings),
    )
    return WebhookDispatcher(deps, outbox)


def loop_for(
    settings: HubSettings, outbox: OutboxStore, url: str, allow_private: bool = True, **sink: Any
) -> RecipientLoop:
    return dispatcher_for(settings, outbox, url, allow_private, **sink).loops()[0]


async def one_attempt(
    loop: RecipientLoop, outbox: OutboxStore, producer: RecordingProducer
) -> None:
    row = outbox.due("waste", utcnow() + timedelta(days=2), 1)[0]
    await loop.attempt(producer, row)  # type: ignore[arg-type]


async def test_retry_after_on_429_is_honoured(settings: HubSettings, outbox: OutboxStore) -> None:
    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "120"})

    runner, url = await serve(busy)
    try:
        loop = loop_for(settings, outbox, url)
        outbox.add([dlv("e1", "A")], utcnow())
        producer = RecordingProducer()
        before = utcnow()
        await one_attempt(loop, outbox, producer)
        row = outbox.rows("waste")[0]
        assert row.status is OutboxStatus.PENDING and row.attempts == 1
        assert row.next_attempt_at - before >= timedelta(seconds=119)  # not the 1 s schedule
        (entry,) = producer.audit()
        assert (entry.outcome, entry.attempt, entry.http_status) == ("attempt_failed", 1, 429)
    finally:
        await runner.cleanup()


async def test_timeout_and_redirect_are_failures_and_the_budget_ends_in_a_dead_letter(
    settings: HubSettings, outbox: OutboxStore
) -> None:
    calls: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(request.path)
        if request.path == "/elsewhere":
            return web.Response(status=200)
        if len(calls) == 1:
            await asyncio.sleep(2)  # longer than the timeout
        return web.Response(status=302, headers={"Location": "/elsewhere"})

    runner, url = await serve(handler)
    try:
        loop = loop_for(settings, outbox, url, timeout_s=0.3)
        outbox.add([dlv("e1", "A")], utcnow())
        producer = RecordingProducer()
        for _ in range(3):
            await one_attempt(loop, outbox, producer)
        assert "/elsewhere" not in calls  # redirects are not followed
        row = outbox.rows("waste")[0]
        assert row.status is OutboxStatus.DEAD and row.attempts == 3
        outcomes = [(e.outcome, e.attempt, e.http_status) for e in producer.audit()]
        assert outcomes == [
            ("attempt_failed", 1, None),
            ("attempt_failed", 2, 302),
            ("attempt_failed", 3, 302),
            ("failed", 3, 302),
        ]
        assert producer.audit()[0].reasons[0].code == "timeout"
        assert [t for t, _ in producer.sent].count("dead-letters.deliveries") == 1
        await loop.sender.close()
    finally:
        await runner.cleanup()


async def test_loopback_is_refused_without_allow_private(
    settings: HubSettings, outbox: OutboxStore
) -> None:
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=200)

    runner, url = await serve(handler)
    try:
        loop = loop_for(settings, outbox, url, allow_private=False)
        outbox.add([dlv("e1", "A")], utcnow())
        producer = RecordingProducer()
        await one_attempt(loop, outbox, producer)
        assert hits == []
        (entry,) = producer.audit()
        assert entry.reasons[0].code == "target_refused"
        assert outbox.rows("waste")[0].status is OutboxStatus.PENDING
    finally:
        await runner.cleanup()


async def test_a_410_is_not_undone_by_an_endpoint_read_taken_before_it_was_recorded(
    settings: HubSettings, outbox: OutboxStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop re-reads its endpoint state now and then (an operator may enable it again). A
    read that lands after a 410 came back but before the loop recorded it sees the endpoint
    still enabled; that stale answer must not start the loop sending again (CI saw a second
    request to an endpoint that had answered 410)."""
    hits: list[str] = []

    async def gone(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=410)

    class ReadAfterGone(OutboxStore):
        """Reads the endpoint every turn until the first read after the 410 reached the loop,
        then waits an hour between reads: that one read is the only chance to go wrong."""

        loop: RecipientLoop | None = None

        def endpoint(self, recipient: str) -> EndpointState:
            state = super().endpoint(recipient)
            if self.loop is not None and self.loop.disabled_changes:
                monkeypatch.setattr("agents.webhook_dispatcher.ENDPOINT_CHECK_S", 3600.0)
            return state

    monkeypatch.setattr("agents.webhook_dispatcher.ENDPOINT_CHECK_S", 0.0)
    settings = settings.model_copy(update={"webhook_poll_interval_s": 0.05})
    runner, url = await serve(gone)
    store = ReadAfterGone(outbox.engine)
    loop = loop_for(settings, store, url)
    store.loop = loop
    outbox.add([dlv(f"e{i}", "A") for i in range(3)], utcnow())
    running = asyncio.create_task(loop.run(RecordingProducer()))  # type: ignore[arg-type]
    try:
        for _ in range(100):
            if outbox.endpoint("waste").disabled_at is not None:
                break
            await asyncio.sleep(0.05)
        assert outbox.endpoint("waste").disabled_at is not None
        await asyncio.sleep(1.0)  # time to send again, if it were going to
        assert hits == ["/hook"]
        assert {r.status for r in outbox.rows("waste")} == {OutboxStatus.PENDING}
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await runner.cleanup()


async def test_a_recipient_without_a_signing_secret_is_not_sent_to_and_loses_nothing(
    settings: HubSettings, outbox: OutboxStore
) -> None:
    """It was sent to, with an empty webhook-signature header (not Standard Webhooks; the
    receiver cannot tell it from a forgery). Now its deliveries wait, pending, for a secret."""
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.headers.get("webhook-signature", ""))
        return web.Response(status=200)

    runner, url = await serve(handler)
    try:
        outbox.add([dlv("e-unsigned", "A")], utcnow())
        unsigned = dispatcher_for(settings, outbox, url, secrets=())
        assert unsigned.loops() == []  # no loop: nothing is sent for it
        assert [r.status for r in outbox.due("waste", utcnow() + timedelta(days=2), 10)] == [
            OutboxStatus.PENDING
        ]
        # once a secret is set (and the worker restarted), the delivery goes, signed
        await one_attempt(loop_for(settings, outbox, url), outbox, RecordingProducer())
        assert len(hits) == 1 and hits[0].startswith("v1,")
    finally:
        await runner.cleanup()
