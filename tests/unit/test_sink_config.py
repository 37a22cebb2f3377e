"""Sink config: inbox by default, webhook or Kafka per recipient; errors name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config.loader import load_config
from hub.config.model import InboxSink, KafkaSink, WebhookSink
from hub.errors import ConfigError
from hub.events.schemas import SchemaRegistry
from hub.settings import HubSettings

WASTE = """    subscriptions: [address.changed, death.notified]
  - id: libraries"""


def set_waste_delivery(config_dir: Path, yaml: str) -> None:
    file = config_dir / "systems.yaml"
    text = file.read_text()
    assert text.count(WASTE) == 1
    file.write_text(text.replace(WASTE, WASTE.replace("\n  - id", yaml + "\n  - id", 1)))


def test_default_is_the_inbox(config_copy: Path, registry: SchemaRegistry) -> None:
    config = load_config(config_copy, registry)
    assert all(isinstance(s.delivery, InboxSink) for s in config.systems)


def test_webhook_and_kafka_sinks(config_copy: Path, registry: SchemaRegistry) -> None:
    set_waste_delivery(
        config_copy,
        "\n    delivery:\n      kind: webhook\n      url: https://waste.example/hooks\n"
        "      timeout_s: 3",
    )
    waste = load_config(config_copy, registry).system("waste")
    assert waste is not None and isinstance(waste.delivery, WebhookSink)
    assert waste.delivery.url == "https://waste.example/hooks"
    assert waste.delivery.allow_private is False
    assert waste.delivery.timeout_s == 3


def test_kafka_sink(config_copy: Path, registry: SchemaRegistry) -> None:
    set_waste_delivery(config_copy, "\n    delivery:\n      kind: kafka")
    waste = load_config(config_copy, registry).system("waste")
    assert waste is not None and waste.delivery == KafkaSink(kind="kafka")


@pytest.mark.parametrize(
    ("yaml", "field"),
    [
        ("\n    delivery:\n      kind: pigeon", "systems.2.delivery"),
        (
            "\n    delivery:\n      kind: webhook\n      url: ftp://x/",
            "systems.2.delivery.webhook.url",
        ),
        ("\n    delivery:\n      kind: webhook", "systems.2.delivery.webhook.url"),
        (
            "\n    delivery:\n      kind: webhook\n      url: https://x.example/\n      secret: s",
            "systems.2.delivery.webhook.secret",
        ),
    ],
)
def test_bad_sinks_name_file_line_and_field(
    config_copy: Path, registry: SchemaRegistry, yaml: str, field: str
) -> None:
    set_waste_delivery(config_copy, yaml)
    with pytest.raises(ConfigError) as info:
        load_config(config_copy, registry)
    locations = [p.location for p in info.value.problems]
    assert any(
        str(config_copy / "systems.yaml") + ":" in loc and field in loc for loc in locations
    ), locations


def test_secrets_come_from_settings_never_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_WEBHOOK_SECRETS", '{"waste": ["whsec_AAAA", "whsec_BBBB"]}')
    settings = HubSettings()
    assert [s.get_secret_value() for s in settings.webhook_secrets["waste"]] == [
        "whsec_AAAA",
        "whsec_BBBB",
    ]
    assert "whsec_AAAA" not in repr(settings)
