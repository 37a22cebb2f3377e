"""Set-up shared by the webhook integration tests: a config copy with webhook sinks, settings."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import SecretStr

from hub.broker.admin import ensure_topics
from hub.events.envelope import Envelope, Event
from hub.settings import HubSettings
from runtime.wiring import open_stores, wire
from tests.conftest import SAMPLE_CONFIG


def webhook_config(target: Path, urls: dict[str, str], extra: dict[str, str] | None = None) -> Path:
    """A copy of the sample config where each recipient in `urls` takes webhooks (loopback)."""
    shutil.copytree(SAMPLE_CONFIG, target)
    systems = target / "systems.yaml"
    lines = systems.read_text().splitlines()
    out: list[str] = []
    current = ""
    for line in lines:
        out.append(line)
        if line.startswith("  - id: "):
            current = line.removeprefix("  - id: ").strip()
        if line.startswith("    subscriptions:") and current in urls:
            out += [
                "    delivery:",
                "      kind: webhook",
                f"      url: {urls[current]}",
                "      allow_private: true",
                *(f"      {x}" for x in (extra or {}).get(current, "").split(";") if x),
            ]
    systems.write_text("\n".join(out) + "\n")
    return target


async def webhook_settings(
    base: HubSettings,
    config_dir: Path,
    secrets: dict[str, str],
    schedule: tuple[float, ...] = (0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2),
) -> HubSettings:
    settings = base.model_copy(
        update={
            "config_dir": config_dir,
            "webhook_secrets": {k: [SecretStr(v)] for k, v in secrets.items()},
            "webhook_retry_schedule_s": schedule,
            "webhook_retry_jitter": 0.0,
            "webhook_poll_interval_s": 0.05,
        }
    )
    w = wire(settings)
    await ensure_topics(settings, w.topics())
    open_stores(settings, schema="create").engine.dispose()
    return settings


def move(event_id: str, subject: str, n: int = 0) -> Event:
    return Event(
        envelope=Envelope(
            id=event_id,
            source="council-tax",
            type="address.changed",
            subject=subject,
            time=datetime(2026, 11, 20, 9, 0, n % 60, tzinfo=UTC),
        ),
        data={
            "previous_address": {
                "uprn": "100023336956",
                "lines": ["2 Mill Lane"],
                "postcode": "EX1 2AB",
            },
            "new_address": {
                "uprn": "100023412345",
                "lines": [f"{n + 1} Orchard Close"],
                "postcode": "EX4 7QT",
            },
            "effective_date": date(2026, 11, 20),
        },
    )
