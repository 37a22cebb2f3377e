"""The webhook client's network backend: the address the SSRF guard checked is the address
connected to (resolve once, check, connect to that address; TLS and Host stay the name's)."""

from __future__ import annotations

import select
import socket
import ssl
import typing

import httpcore

from hub.delivery.ssrf import (
    Resolver,
    WebhookTargetRefused,
    literal_address,
    refused_addresses,
    resolve,
)


def socket_readable(sock: socket.socket | None) -> bool:
    """Whether a read would return at once (data, or the end of a connection the server closed);
    a socket gone or closed counts as readable, as in httpcore."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    if not hasattr(select, "poll"):  # pragma: no cover - not on Linux
        return bool(select.select([fd], [], [], 0)[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class PinnedStream(httpcore.AsyncNetworkStream):
    """A connection made by PinnedBackend. The pool asks every idle connection whether the server
    closed it ("is_readable") each time it hands out or takes back a connection; the anyio stream
    rebuilds its attribute table (and calls getpeername) for each such question, so the socket is
    looked up once here instead."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self.inner = inner
        self.sock: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self.inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self.inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return PinnedStream(await self.inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return socket_readable(self.sock)
        if info == "socket":
            return self.sock
        return self.inner.get_extra_info(info)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend: resolve once, check, connect to the checked address.

    Raises WebhookTargetRefused (not an httpcore error, so it reaches the caller as it is)
    when the host resolves to nothing, or to any non-public address without allow_private."""

    def __init__(
        self,
        allow_private: bool,
        resolver: Resolver = resolve,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def checked_addresses(self, host: str, port: int) -> list[str]:
        literal = literal_address(host)
        try:
            addresses = [literal] if literal else list(await self.resolver(host, port))
        except OSError as exc:
            raise WebhookTargetRefused(f"cannot resolve the webhook host {host}: {exc}") from exc
        if not addresses:
            raise WebhookTargetRefused(f"the webhook host {host} has no address")
        refused = [] if self.allow_private else refused_addresses(addresses)
        if refused:
            raise WebhookTargetRefused(
                f"the webhook host {host} resolves to non-public {', '.join(refused)}; "
                "set delivery.allow_private: true for this recipient to allow it"
            )
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.checked_addresses(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return PinnedStream(
                    await self.inner.connect_tcp(
                        address, port, timeout, local_address, socket_options
                    )
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise WebhookTargetRefused("webhooks are never sent over a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
