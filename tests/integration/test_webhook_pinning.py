"""Webhooks over a real loopback socket: no proxy, the checked address, the name as Host."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Sequence
from pathlib import Path

import httpcore
import pytest
from aiohttp import web

from connectors.webhook import WebhookSender
from hub.config.model import WebhookSink
from hub.delivery.pinned import PinnedBackend
from tests.tls_certs import TlsFiles


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
    assert (
        b"\r\nuser-agent: tell-it-once-hub/" in head.lower()
    )  # the hub, named in the receiver's logs


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


async def test_https_through_the_pinned_connection_keeps_the_name_and_verifies_the_certificate(
    tls_files: TlsFiles,
) -> None:
    """HTTPS to a name pinned to loopback: the certificate is verified for the name (SNI), the
    Host header is the name, the connection is kept alive over TLS; a certificate from a CA
    the client does not trust is a connection error, not a delivery."""
    hosts: list[str] = []

    async def ok(request: web.Request) -> web.Response:
        hosts.append(request.headers["Host"])
        await request.read()
        return web.Response(status=204)

    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(tls_files.server_cert, tls_files.server_key)
    app = web.Application()
    app.router.add_post("/h", ok)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    connects: list[str] = []

    def resolver(host: str, port: int) -> Awaitable[Sequence[str]]:
        connects.append(host)
        return resolver_to("127.0.0.1")(host, port)  # type: ignore[no-any-return]

    def pool(ca: Path) -> httpcore.AsyncConnectionPool:
        return httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(cafile=str(ca)),
            network_backend=PinnedBackend(True, resolver),
        )

    sink = WebhookSink(kind="webhook", url=f"https://localhost:{port}/h", allow_private=True)
    trusted = WebhookSender(sink, ["whsec_" + "A" * 32], resolver=resolver)
    trusted.pool = pool(tls_files.ca_file)
    untrusted = WebhookSender(sink, ["whsec_" + "A" * 32], resolver=resolver)
    untrusted.pool = pool(tls_files.other_ca_file)
    try:
        first = await trusted.send("msg-1", b"{}")
        second = await trusted.send("msg-2", b"{}")
        refused = await untrusted.send("msg-3", b"{}")
    finally:
        await trusted.close()
        await untrusted.close()
        await runner.cleanup()
    assert (first.http_status, second.http_status) == (204, 204), (first, second)
    assert hosts == [f"localhost:{port}"] * 2
    assert connects == ["localhost", "localhost"]  # one connection each (kept alive over TLS)
    assert refused.http_status is None and refused.error == "connection:ConnectError"


@pytest.mark.parametrize("chunk_size", [65_536, 1], ids=["huge", "trickling"])
async def test_an_endless_or_huge_response_body_is_not_read_to_its_end(chunk_size: int) -> None:
    """A receiver that accepts (200) and then streams a body without end, in large chunks or
    a byte at a time: the sender reads at most 64 KiB of it within the sink's timeout, reports
    the status, and does not reuse that connection; the next webhook goes on a new one."""
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            chunk = b"x" * chunk_size
            while True:  # a chunk every 50 ms, within every read timeout, for ever
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                await asyncio.sleep(0.05)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        sink = WebhookSink(
            kind="webhook", url=f"http://hooks.test:{port}/h", allow_private=True, timeout_s=1
        )
        sender = WebhookSender(sink, ["whsec_" + "A" * 32], resolver=resolver_to("127.0.0.1"))
        try:
            first = await asyncio.wait_for(sender.send("msg-1", b"{}"), timeout=10)
            second = await asyncio.wait_for(sender.send("msg-2", b"{}"), timeout=10)
        finally:
            await sender.close()
    assert (first.http_status, first.error) == (200, "")
    assert (second.http_status, second.error) == (200, "")
    assert first.latency_ms < 3000
    assert connections == 2
