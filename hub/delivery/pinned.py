"""The webhook client's network backend: the address the SSRF guard checked is the address
connected to (resolve once, check, connect to that address; TLS and Host stay the name's)."""

from __future__ import annotations

import typing

import httpcore

from hub.delivery.ssrf import (
    Resolver,
    WebhookTargetRefused,
    literal_address,
    refused_addresses,
    resolve,
)


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
                return await self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
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
