"""SSRF guard: a webhook URL must resolve to public addresses unless the recipient allows private.

Three places hold the line:
- `static_refusal` (at `hub config check`): a URL whose host can only be non-public (a literal
  private/loopback/link-local address, `localhost`, `*.local`...) is refused in the config;
- `hub.delivery.pinned.PinnedBackend` (at send time): the webhook client's connections resolve the host once,
  check every address, and connect to a checked address, so a name that resolves to a public
  address for the check and a private one for the connection (DNS rebinding) cannot get through.
  TLS still verifies the certificate against the name (SNI), and the Host header is the name;
- the webhook client never uses a proxy (trust_env off): HTTPS_PROXY cannot route around it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from hub.errors import HubError

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


class WebhookTargetRefused(HubError):
    """A webhook URL whose host is private, loopback, link-local or reserved (or unresolvable)."""

    code = "webhook_target_refused"


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


# Names that only ever mean this machine or the local network (RFC 6761, 6762, 8375).
PRIVATE_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".localdomain")


def literal_address(host: str) -> str | None:
    """The IP address `host` spells (including legacy IPv4 forms like 127.1 or 2130706433,
    which the resolver accepts too), or None for a name."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except (OSError, UnicodeError):
        return None


def static_refusal(url: str) -> str | None:
    """Why `url` can only reach a non-public address, without resolving it; None if it may not."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if not host:
        return "the webhook URL has no host"
    address = literal_address(host)
    if address is not None:
        return None if is_public(address) else f"{host} is a non-public address"
    if host in PRIVATE_NAMES or host.endswith(PRIVATE_SUFFIXES):
        return f"{host} names a local or private host"
    return None


def refused_addresses(addresses: Sequence[str]) -> list[str]:
    """The addresses a webhook may not be sent to (without allow_private)."""
    return [a for a in addresses if not is_public(a)]


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def check_target(url: str, allow_private: bool, resolver: Resolver = resolve) -> None:
    """Raise WebhookTargetRefused unless every address `url`'s host resolves to may be used."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise WebhookTargetRefused("a webhook URL must be http(s)://host/...")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = list(await resolver(host, port))
    except OSError as exc:
        raise WebhookTargetRefused(f"cannot resolve the webhook host {host}: {exc}") from exc
    if not addresses:
        raise WebhookTargetRefused(f"the webhook host {host} has no address")
    if allow_private:
        return
    refused = refused_addresses(addresses)
    if refused:
        raise WebhookTargetRefused(
            f"the webhook host {host} resolves to non-public {', '.join(refused)}; "
            "set delivery.allow_private: true for this recipient to allow it"
        )
