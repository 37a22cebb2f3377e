"""`hub up` waits for its API with one HTTP client: a client per look built a TLS context each
time (the CA bundle read again, about 45 ms of CPU), over a second of the supervisor's CPU for
every stack start, even though the API it asks is plain HTTP on loopback."""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hub.heartbeat import HeartbeatStore
from hub.settings import HubSettings
from hub.timeutil import utcnow
from runtime.stack import Stack
from runtime.wiring import open_stores

NOT_READY_LOOKS = 5


class _SlowReadyApi(BaseHTTPRequestHandler):
    looks = 0

    def do_GET(self) -> None:
        type(self).looks += 1
        ready = type(self).looks > NOT_READY_LOOKS
        body = b'{"status": "ready"}' if ready else b'{"status": "starting"}'
        self.send_response(200 if ready else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def slow_api() -> Iterator[str]:
    _SlowReadyApi.looks = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowReadyApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_readiness_wait_builds_at_most_one_tls_context(
    settings: HubSettings, slow_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = open_stores(settings, schema="create")
    now = utcnow()
    HeartbeatStore(stores.engine).beat("here:1", os.getpid(), now, now, assigned=4)
    stores.engine.dispose()
    built: list[object] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    stack = Stack(settings, ready_timeout=30)
    stack.api_url = slow_api
    stack._wait_ready()
    assert _SlowReadyApi.looks == NOT_READY_LOOKS + 1  # it did look until the API was ready
    assert len(built) <= 1
