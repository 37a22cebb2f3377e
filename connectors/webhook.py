"""Webhook sink: one signed Standard Webhooks POST per attempt (httpx's httpcore, no redirects,
TLS verified).

Connections go only to addresses the SSRF guard checked (PinnedBackend: resolve once, check,
connect to that address, TLS and Host still for the name), and never through a proxy."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpcore
import httpx

from hub import __version__
from hub.config.model import WebhookSink
from hub.delivery.pinned import PinnedBackend
from hub.delivery.schedule import parse_retry_after
from hub.delivery.signing import webhook_headers
from hub.delivery.ssrf import Resolver, WebhookTargetRefused, resolve
from hub.timeutil import utcnow

RETRY_AFTER_STATUSES = frozenset({429, 503})
# A receiver's answer is its status (and Retry-After). Its body is read only so that the
# connection can carry the next webhook, and only this much of it, within the sink's timeout: a
# larger, endless or stalled body closes that connection instead of holding the worker.
MAX_RESPONSE_BODY_BYTES = 64 * 1024
USER_AGENT = f"tell-it-once-hub/{__version__}".encode("ascii")


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


def pinned_pool(
    sink: WebhookSink,
    verify_tls: bool = True,
    resolver: Resolver = resolve,
    inner: httpcore.AsyncNetworkBackend | None = None,
) -> httpcore.AsyncConnectionPool:
    """httpx's connection pool (httpcore) whose connections are made by the SSRF guard's
    PinnedBackend; no proxy, and TLS from a context that ignores the environment (no
    SSL_CERT_FILE)."""
    return httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(verify=verify_tls, trust_env=False),
        max_connections=sink.concurrency,
        max_keepalive_connections=sink.concurrency,
        keepalive_expiry=5.0,
        network_backend=PinnedBackend(sink.allow_private, resolver, inner),
    )


# httpcore's errors, as httpx names them (httpx raises a class of the same name for each)
TRANSPORT_ERRORS = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
)


async def drain_body(response: httpcore.Response, timeout_s: float) -> None:
    """Read a response's body to its end if it is at most MAX_RESPONSE_BODY_BYTES and ends within
    `timeout_s` (the connection then goes back to the pool). Otherwise stop reading: closing the
    response then closes its connection. The status has arrived either way and stands."""
    taken = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in response.aiter_stream():
                taken += len(chunk)
                if taken > MAX_RESPONSE_BODY_BYTES:
                    return
    except (TimeoutError, httpcore.TimeoutException, *TRANSPORT_ERRORS):
        return


class WebhookSender:
    """Sends to one recipient's endpoint over its own connection pool (no sharing across recipients).

    Requests go straight to the pinned connection pool, the engine of httpx (httpcore): a webhook
    needs none of what httpx's client and models add per request (redirects are never followed,
    no cookies are kept, no auth flow, no proxy, no content decoding), and building the request
    line and fixed headers once per recipient instead of once per request about halves the
    HTTP client's CPU per delivery."""

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
        self.pool = pinned_pool(sink, verify_tls, resolver)
        url = httpx.URL(sink.url)
        self.url = httpcore.URL(
            scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
        )
        # Host (the name, with a non-default port, as httpx spells it), and a User-Agent that
        # names the hub in a receiver's logs
        self.fixed_headers: list[tuple[bytes, bytes]] = [
            (b"Host", httpx.Request("POST", url).headers["Host"].encode("ascii")),
            (b"Accept", b"*/*"),
            (b"User-Agent", USER_AGENT),
            (b"Content-Type", b"application/json"),
        ]
        self.timeout = httpx.Timeout(sink.timeout_s).as_dict()

    async def close(self) -> None:
        await self.pool.aclose()

    async def post(self, headers: dict[str, str], body: bytes) -> tuple[int, str | None]:
        """One POST; the response body is drained (`drain_body`) and the response closed. The
        status and the Retry-After header."""
        request = httpcore.Request(
            b"POST",
            self.url,
            headers=[
                *self.fixed_headers,
                (b"Content-Length", str(len(body)).encode("ascii")),
                *((k.encode("ascii"), v.encode("ascii")) for k, v in headers.items()),
            ],
            content=body,
            extensions={"timeout": self.timeout},
        )
        response = await self.pool.handle_async_request(request)
        try:
            await drain_body(response, self.sink.timeout_s)
        finally:
            await response.aclose()
        retry_after = next(
            (v.decode("latin-1") for k, v in response.headers if k.lower() == b"retry-after"),
            None,
        )
        return response.status, retry_after

    async def send(self, msg_id: str, body: bytes) -> AttemptResult:
        started = time.perf_counter()

        def elapsed() -> float:
            return round((time.perf_counter() - started) * 1000, 3)

        headers = webhook_headers(self.secrets, msg_id, int(time.time()), body)
        try:
            status, retry_after_header = await self.post(headers, body)
        except WebhookTargetRefused:
            return AttemptResult(None, elapsed(), error="target_refused")
        except httpcore.TimeoutException:
            return AttemptResult(None, elapsed(), error="timeout")
        except TRANSPORT_ERRORS as exc:
            return AttemptResult(None, elapsed(), error=f"connection:{type(exc).__name__}")
        retry_after = (
            parse_retry_after(retry_after_header, utcnow())
            if status in RETRY_AFTER_STATUSES
            else None
        )
        error = "" if 200 <= status < 300 else f"http_{status}"
        return AttemptResult(status, elapsed(), retry_after, error)
