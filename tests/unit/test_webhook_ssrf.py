"""SSRF guard: private, loopback, link-local and reserved targets are refused unless allowed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from hub.delivery.ssrf import WebhookTargetRefused, check_target, is_public


def resolver_to(*addresses: str):  # type: ignore[no-untyped-def]
    async def _resolve(host: str, port: int) -> Sequence[str]:
        return addresses

    return _resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.5",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "100.64.0.1",
        "240.0.0.1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8"])
def test_public_addresses(address: str) -> None:
    assert is_public(address)


async def test_a_host_resolving_to_a_private_address_is_refused() -> None:
    with pytest.raises(WebhookTargetRefused, match="allow_private"):
        await check_target(
            "https://hooks.example/x", False, resolver_to("93.184.216.34", "10.0.0.1")
        )


async def test_allow_private_permits_loopback() -> None:
    await check_target("http://127.0.0.1:9000/hook", True, resolver_to("127.0.0.1"))


async def test_a_public_host_passes() -> None:
    await check_target("https://hooks.example/x", False, resolver_to("93.184.216.34"))


async def test_unresolvable_and_bad_scheme_are_refused() -> None:
    async def broken(host: str, port: int) -> Sequence[str]:
        raise OSError("no such host")

    with pytest.raises(WebhookTargetRefused, match="cannot resolve"):
        await check_target("https://nowhere.invalid/", False, broken)
    with pytest.raises(WebhookTargetRefused):
        await check_target("ftp://hooks.example/", True, resolver_to("93.184.216.34"))


async def test_the_real_resolver_refuses_localhost() -> None:
    with pytest.raises(WebhookTargetRefused):
        await check_target("http://localhost:1/", False)
