"""Webhooks over a real loopback socket: no proxy, the checked address, the name as Host."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from connectors.webhook import WebhookSender
from hub.config.model import WebhookSink


def resolver_to(*addresses: str):  # type: ignore[no-untyped-def]
    async def _resolve(host: str, port: int) -> Sequence[str]:
        return addresses

    return _resolve


async def test_webhooks_ignore_proxies_and_keep_the_host_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTPS_PROXY/HTTP_PROXY set to a proxy that would take the request: the webhook still
    goes straight to the checked address, with the name as its Host header."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head)
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxy_port = proxy.sockets[0].getsockname()[1]
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy_port}")
    async with server, proxy:
        sink = WebhookSink(kind="webhook", url=f"http://hooks.test:{port}/h", allow_private=True)
        sender = WebhookSender(sink, ["whsec_" + "A" * 32], resolver=resolver_to("127.0.0.1"))
        result = await sender.send("msg-1", b"{}")
        await sender.close()
    assert result.http_status == 204, result
    (head,) = seen
    assert head.startswith(b"POST /h HTTP/1.1")  # origin-form: not sent to a proxy
    assert f"host: hooks.test:{port}".encode() in head.lower()


async def test_a_connection_is_kept_alive_and_one_the_receiver_closed_is_not_reused() -> None:
    """Two webhooks in a row share one connection (keep-alive); when the receiver closes an idle
    connection, the next webhook notices (the pinned stream's readiness check) and opens a new
    one instead of failing on the dead one."""
    connections: list[asyncio.StreamWriter] = []
    requests = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        connections.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                requests += 1
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        sink = WebhookSink(kind="webhook", url=f"http://hooks.test:{port}/h", allow_private=True)
        sender = WebhookSender(sink, ["whsec_" + "A" * 32], resolver=resolver_to("127.0.0.1"))
        try:
            first = await sender.send("msg-1", b"{}")
            second = await sender.send("msg-2", b"{}")
            assert (first.http_status, second.http_status) == (204, 204)
            assert len(connections) == 1  # kept alive
            connections[0].close()  # the receiver drops the idle connection
            await connections[0].wait_closed()
            third = await sender.send("msg-3", b"{}")
        finally:
            await sender.close()
    assert third.http_status == 204, third
    assert len(connections) == 2
    assert requests == 3
