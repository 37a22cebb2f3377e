"""Input limits of the HTTP API: a request body size limit enforced while the body streams in.

A declared Content-Length over the limit is answered 413 before any of the body is read; a
body without one (chunked) is counted as it arrives and refused as soon as it passes the
limit, so the API never holds more than the limit of any request in memory.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.errors import error_body
from hub.errors import HubError

# Integer query and body parameters are bounded to what the databases can store (BIGINT).
MAX_INT64 = 2**63 - 1


class BodyTooLarge(HubError):
    code = "body_too_large"


def _too_large(limit: int) -> bytes:
    return json.dumps(
        error_body(
            BodyTooLarge.code,
            f"the request body is larger than {limit} bytes (HUB_API_MAX_BODY_BYTES); "
            "send smaller requests",
        )
    ).encode()


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """ASGI middleware: 413 JSON error for a body over `max_bytes` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            body = json.dumps(
                error_body("bad_request", "the Content-Length header is not a number")
            ).encode()
            await _send_json(send, 400, body)
            return
        if declared is not None and declared > self.max_bytes:
            await _send_json(send, 413, _too_large(self.max_bytes))
            return
        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge(f"the request body is larger than {self.max_bytes} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the app made of the cut-off body, the answer is 413
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _send_json(send, 413, _too_large(self.max_bytes))


def _content_length(scope: Scope) -> int | None:
    """The declared body length; None when absent, -1 when it is not a number."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            if not (text.isascii() and text.isdigit()):
                return -1
            return int(text) if len(text) <= 18 else MAX_INT64
    return None


def install_limits(app: Any, max_body_bytes: int) -> None:
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
