"""SSRF guard: private, loopback, link-local and reserved targets are refused unless allowed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpcore
import pytest
from pydantic import ValidationError

from connectors.webhook import WebhookSender, pinned_pool
from hub.config.loader import load_config
from hub.config.model import WebhookSink
from hub.delivery.pinned import PinnedBackend
from hub.delivery.ssrf import (
    WebhookTargetRefused,
    check_target,
    is_public,
    static_refusal,
)
from hub.errors import ConfigError
from hub.events.schemas import SchemaRegistry


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


# --- at `hub config check`: URLs that can only reach non-public addresses -------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://127.1/hook",
        "http://2130706433/hook",
        "http://0x7f.0.0.1/",
        "http://[::1]:8080/",
        "https://10.0.0.7/hooks",
        "https://169.254.169.254/latest/meta-data",
        "http://localhost:8080/",
        "http://LOCALHOST./",
        "http://api.localhost/",
        "https://printer.local/",
        "https://metadata.google.internal/",
        "https://router.home.arpa/",
    ],
)
def test_static_refusal_of_non_public_urls(url: str) -> None:
    assert static_refusal(url) is not None


@pytest.mark.parametrize(
    "url",
    ["https://waste.example.gov.uk/hooks", "https://93.184.216.34/x", "http://[2606:4700::1111]/"],
)
def test_static_refusal_lets_public_urls_through(url: str) -> None:
    assert static_refusal(url) is None


def test_the_config_refuses_a_loopback_webhook_unless_allowed() -> None:
    with pytest.raises(ValidationError, match="allow_private: true"):
        WebhookSink(kind="webhook", url="http://127.0.0.1:9000/hook")
    assert WebhookSink(kind="webhook", url="http://127.0.0.1:9000/hook", allow_private=True)


def test_config_check_names_the_file_and_the_loopback_url(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    systems = config_copy / "systems.yaml"
    text = systems.read_text()
    waste = "    subscriptions: [address.changed, death.notified]\n  - id: libraries"
    assert text.count(waste) == 1
    systems.write_text(
        text.replace(
            waste,
            waste.replace(
                "\n  - id",
                "\n    delivery:\n      kind: webhook\n      url: http://localhost:9000/hook"
                "\n  - id",
                1,
            ),
        )
    )
    with pytest.raises(ConfigError) as info:
        load_config(config_copy, registry)
    (problem,) = info.value.problems
    assert str(systems) + ":" in problem.location
    assert "delivery.webhook" in problem.location
    assert "localhost names a local or private host" in problem.message


# --- at send time: the address checked is the address connected to --------------------------


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Stands in for the real network: records where connections go, connects nowhere."""

    def __init__(self) -> None:
        self.connected: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        self.connected.append((host, port))
        raise httpcore.ConnectError("test: not connecting")


def rebinding(*answers: Sequence[str]):  # type: ignore[no-untyped-def]
    """A resolver giving each answer in turn (a DNS server rebinding the name)."""
    calls: list[str] = []

    async def _resolve(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return answers[min(len(calls), len(answers)) - 1]

    _resolve.calls = calls  # type: ignore[attr-defined]
    return _resolve


async def test_the_connection_goes_to_the_checked_address_only() -> None:
    inner = RecordingBackend()
    resolver = rebinding(["93.184.216.34"], ["127.0.0.1"])
    backend = PinnedBackend(False, resolver, inner)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("hooks.example", 443)
    assert inner.connected == [("93.184.216.34", 443)]  # the address checked, not the name
    assert resolver.calls == ["hooks.example"]  # resolved once per connection
    with pytest.raises(WebhookTargetRefused, match=r"127\.0\.0\.1"):
        await backend.connect_tcp("hooks.example", 443)  # the name now points inside
    assert inner.connected == [("93.184.216.34", 443)]  # and nothing was connected to


async def test_a_rebinding_name_is_refused_through_the_webhook_client() -> None:
    """Through WebhookSender's real httpx client: the check and the connection are one."""
    inner = RecordingBackend()
    sink = WebhookSink(kind="webhook", url="https://hooks.example/h")
    sender = WebhookSender(sink, ["whsec_" + "A" * 32], resolver=rebinding(["10.0.0.9"]))
    sender.pool = pinned_pool(sink, True, rebinding(["10.0.0.9"]), inner)
    result = await sender.send("msg-1", b"{}")
    assert result.error == "target_refused"
    assert inner.connected == []
    await sender.close()
