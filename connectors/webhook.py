"""Webhook sink: one signed Standard Webhooks POST per attempt (httpx, no redirects, TLS verified).

Connections go only to addresses the SSRF guard checked (PinnedBackend: resolve once, check,
connect to that address, TLS and Host still for the name), and never through a proxy."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpcore
import httpx

from hub.config.model import WebhookSink
from hub.delivery.pinned import PinnedBackend
from hub.delivery.schedule import parse_retry_after
from hub.delivery.signing import webhook_headers
from hub.delivery.ssrf import Resolver, WebhookTargetRefused, resolve
from hub.timeutil import utcnow

RETRY_AFTER_STATUSES = frozenset({429, 503})
# What httpx.AsyncClient sent by default (Host and Content-Length are added by httpx.Request)
DEFAULT_HEADERS = {
    "accept": "*/*",
    "user-agent": f"python-httpx/{httpx.__version__}",
    "content-type": "application/json",
}


@dataclass(frozen=True)
class AttemptResult:
    """What one POST came to. `error` is a short code, never a body, secret or signature."""

    http_status: int | None
    latency_ms: float
    retry_after_s: float | None = None
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300

    @property
    def gone(self) -> bool:
        return self.http_status == 410


def pinned_transport(
    sink: WebhookSink,
    verify_tls: bool = True,
    resolver: Resolver = resolve,
    inner: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections are made by the SSRF guard's PinnedBackend and
    which ignores the environment (no HTTP(S)_PROXY, no SSL_CERT_FILE)."""
    transport = httpx.AsyncHTTPTransport(verify=verify_tls, trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(verify=verify_tls, trust_env=False),
        max_connections=sink.concurrency,
        max_keepalive_connections=sink.concurrency,
        keepalive_expiry=5.0,
        network_backend=PinnedBackend(sink.allow_private, resolver, inner),
    )
    return transport


class WebhookSender:
    """Sends to one recipient's endpoint over its own connection pool (no sharing across recipients).

    Requests go straight to the pinned transport (httpx's transport API): a webhook needs none of
    what `httpx.AsyncClient` adds per request (redirects are never followed, no cookies are kept,
    no auth flow, no proxy), and skipping it about halves httpx's CPU per delivery."""

    def __init__(
        self,
        sink: WebhookSink,
        secrets: list[str],
        verify_tls: bool = True,
        resolver: Resolver = resolve,
    ) -> None:
        self.sink = sink
        self.secrets = secrets
        self.resolver = resolver
        self.transport = pinned_transport(sink, verify_tls, resolver)
        self.url = httpx.URL(sink.url)
        self.timeout = httpx.Timeout(sink.timeout_s).as_dict()

    async def close(self) -> None:
        await self.transport.aclose()

    async def post(self, headers: dict[str, str], body: bytes) -> httpx.Response:
        """One POST on the pinned transport; the body is read (the connection goes back to the
        pool for the next request) and the response closed."""
        request = httpx.Request(
            "POST",
            self.url,
            headers={**DEFAULT_HEADERS, **headers},
            content=body,
            extensions={"timeout": self.timeout},
        )
        response = await self.transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def send(self, msg_id: str, body: bytes) -> AttemptResult:
        started = time.perf_counter()

        def elapsed() -> float:
            return round((time.perf_counter() - started) * 1000, 3)

        headers = webhook_headers(self.secrets, msg_id, int(time.time()), body)
        try:
            response = await self.post(headers, body)
        except WebhookTargetRefused:
            return AttemptResult(None, elapsed(), error="target_refused")
        except httpx.TimeoutException:
            return AttemptResult(None, elapsed(), error="timeout")
        except httpx.HTTPError as exc:
            return AttemptResult(None, elapsed(), error=f"connection:{type(exc).__name__}")
        retry_after = (
            parse_retry_after(response.headers.get("retry-after"), utcnow())
            if response.status_code in RETRY_AFTER_STATUSES
            else None
        )
        error = "" if 200 <= response.status_code < 300 else f"http_{response.status_code}"
        return AttemptResult(response.status_code, elapsed(), retry_after, error)
