"""Shared fixtures: settings in a temp dir, the embedded broker, a throw-away PostgreSQL on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.broker.embedded import EmbeddedBroker
from hub.settings import REPO_ROOT, HubSettings
from tests.pg_server import PgServer, pg_bindir

SAMPLE_CONFIG = REPO_ROOT / "config"
WIDE_WINDOW_DAYS = 36_500


@pytest.fixture(autouse=True)
def _clean_hub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up the developer's own HUB_ settings."""
    for key in list(os.environ):
        if key.startswith("HUB_"):
            monkeypatch.delenv(key)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A fresh embedded broker per test (it starts in well under a second)."""
    with EmbeddedBroker(log_file=tmp_path / "broker.log") as b:
        yield b


@pytest.fixture
def settings(tmp_path: Path) -> HubSettings:
    # The examples carry fixed dates; the effective-date window is unit-tested with a fixed clock.
    return HubSettings(
        data_dir=tmp_path / "data",
        config_dir=SAMPLE_CONFIG,
        api_port=0,
        effective_date_past_days=WIDE_WINDOW_DAYS,
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server started for this test run on loopback (Debian's package)."""
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (make test installs them)")
    server = PgServer(bindir)
    try:
        yield server.url
    finally:
        server.remove()


# A user's journey through the CLI and HTTP runs tens of `hub` processes one after another: on a
# 2-core machine shared with two other test processes that alone can pass 180 s. Every wait in
# those tests has its own deadline on a condition; this is only the guard against a hang.
JOURNEY_TIMEOUT_S = 600


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.parts
        if ("e2e" in parts or "browser" in parts) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(JOURNEY_TIMEOUT_S))
