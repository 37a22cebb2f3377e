"""A real HTTP receiver for webhook tests: verifies Standard Webhooks signatures with the
`standardwebhooks` library (as a recipient would), runs in its own thread and event loop."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hub.broker.embedded import free_port


def make_secret(name: str) -> str:
    return "whsec_" + base64.b64encode(f"{name}-secret-0123456789abcdef".encode()[:32]).decode()


@dataclass
class Received:
    webhook_id: str
    body: dict[str, Any]
    status: int


@dataclass
class Endpoint:
    """One recipient's endpoint. `respond(n)` gives the status of the n-th request (1-based)."""

    name: str
    secret: str
    respond: Callable[[int], int] = lambda n: 200
    hang: bool = False
    requests: list[Received] = field(default_factory=list)
    invalid_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def accepted_ids(self) -> set[str]:
        return {r.webhook_id for r in self.accepted()}

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


class Receiver:
    def __init__(self, endpoints: list[Endpoint]) -> None:
        self.endpoints = {e.name: e for e in endpoints}
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()
        self.runner: web.AppRunner | None = None
        self.closing = False

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    async def _handle(self, request: web.Request) -> web.Response:
        endpoint = self.endpoints[request.match_info["name"]]
        body = await request.read()
        while endpoint.hang and not self.closing:
            await asyncio.sleep(0.05)
        if endpoint.hang:
            return web.Response(status=503)
        try:
            payload = Webhook(endpoint.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            with endpoint.lock:
                endpoint.invalid_signatures += 1
            return web.Response(status=401)
        with endpoint.lock:
            status = endpoint.respond(len(endpoint.requests) + 1)
            endpoint.requests.append(Received(request.headers["webhook-id"], payload, status))
        return web.Response(status=status, text=json.dumps({"ok": status < 300}))

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/hooks/{name}", self._handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        self.loop.run_until_complete(site.start())
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self) -> Receiver:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing = True

        async def _stop() -> None:
            if self.runner is not None:
                await self.runner.cleanup()

        asyncio.run_coroutine_threadsafe(_stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
