"""Shared fixtures: settings in a temp dir, the embedded broker, a throw-away PostgreSQL on loopback."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from bench.pg_server import PgServer, pg_bindir
from hub.audit.search_names import SearchNames
from hub.audit.signing import generate_private_pem
from hub.broker.embedded import BrokerTls, EmbeddedBroker
from hub.settings import REPO_ROOT, HubSettings
from tests.tls_certs import TlsFiles, make_tls_files

SAMPLE_CONFIG = REPO_ROOT / "config"


def sample_search_names() -> SearchNames:
    """What a transfer search may name under the repository's sample configuration."""
    from runtime.wiring import wire

    w = wire(HubSettings(config_dir=SAMPLE_CONFIG))
    return SearchNames.of(w.config, w.registry.event_types)


WIDE_WINDOW_DAYS = 36_500
TEST_SIGNING_PEM = generate_private_pem().decode()
TEST_RECORD_KEY = "test-record-signing-key-" + "r" * 32
# What a production process must be given (processes started on these settings get them through
# settings_env); the repository's config holds demo API keys, so tests allow them explicitly.
TEST_SECRETS: dict[str, object] = {
    "pseudonym_key": SecretStr("test-pseudonym-key-" + "p" * 32),
    "record_signing_key": SecretStr(TEST_RECORD_KEY),
    "audit_signing_key": SecretStr(TEST_SIGNING_PEM),
    "allow_demo_keys": True,
}
# The same as environment variables, for `hub` processes against a fixture broker.
TEST_SECRETS_ENV = {
    "HUB_PSEUDONYM_KEY": "test-pseudonym-key-" + "p" * 32,
    "HUB_RECORD_SIGNING_KEY": TEST_RECORD_KEY,
    "HUB_AUDIT_SIGNING_KEY": TEST_SIGNING_PEM,
    "HUB_ALLOW_DEMO_KEYS": "true",
}


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


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A throw-away CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


SECURE_USERS = ("hub", "hub-api", "hub-worker", "hub-connector")


@dataclass(frozen=True)
class SecureBroker:
    """An embedded broker that requires TLS with a client certificate and SASL SCRAM-SHA-512.

    `settings(base)` / `env(user)` are what a hub process needs to reach it: the same HUB_*
    variables a deployment sets for a secured Apache Kafka.
    """

    broker: EmbeddedBroker
    tls: TlsFiles
    passwords: dict[str, str]
    mechanism: str = "SCRAM-SHA-512"

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def update(self, user: str = "hub") -> dict[str, object]:
        """HubSettings fields (model_copy(update=...)) for `user`."""
        return {
            "kafka_bootstrap": self.bootstrap,
            "kafka_security_protocol": "SASL_SSL",
            "kafka_ssl_ca_file": self.tls.ca_file,
            "kafka_ssl_cert_file": self.tls.client_cert,
            "kafka_ssl_key_file": self.tls.client_key,
            "kafka_sasl_mechanism": self.mechanism,
            "kafka_sasl_username": user,
            "kafka_sasl_password": SecretStr(self.passwords[user]),
        }

    def settings(self, base: HubSettings, user: str = "hub") -> HubSettings:
        return base.model_copy(update=self.update(user))

    def env(self, user: str = "hub") -> dict[str, str]:
        """The HUB_* environment variables (only those) that reach this broker as `user`."""
        plain = {
            k: v.get_secret_value() if isinstance(v, SecretStr) else str(v)
            for k, v in self.update(user).items()
        }
        return {f"HUB_{k.upper()}": v for k, v in plain.items()}


@pytest.fixture
def secure_broker(tmp_path: Path, tls_files: TlsFiles) -> Iterator[SecureBroker]:
    """A fresh embedded broker over TLS (client certificate required) + SASL SCRAM-SHA-512."""
    passwords = {user: secrets.token_urlsafe(16) for user in SECURE_USERS}
    with EmbeddedBroker(
        log_file=tmp_path / "broker.log",
        tls=BrokerTls(tls_files.server_cert, tls_files.server_key, tls_files.ca_file),
        users=passwords,
    ) as b:
        yield SecureBroker(b, tls_files, passwords)


@pytest.fixture
def settings(tmp_path: Path) -> HubSettings:
    # The examples carry fixed dates; the effective-date window is unit-tested with a fixed clock.
    return HubSettings(
        data_dir=tmp_path / "data",
        config_dir=SAMPLE_CONFIG,
        api_port=0,
        effective_date_past_days=WIDE_WINDOW_DAYS,
        **TEST_SECRETS,  # type: ignore[arg-type]
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


@pytest.fixture
def own_postgres() -> Iterator[PgServer]:
    """A PostgreSQL server of the test's own, which it may stop and start (an outage)."""
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (make test installs them)")
    server = PgServer(bindir)
    yield server
    server.remove()


# A user's journey through the CLI and HTTP runs tens of `hub` processes one after another: on a
# 2-core machine shared with two other test processes that alone can pass 180 s. Every wait in
# those tests has its own deadline on a condition; this is only the guard against a hang.
JOURNEY_TIMEOUT_S = 600


# The longest tests first (each 30-100 s on 2 cores; `make test` prints the 25 slowest): xdist
# hands tests out in collection order, so a long one collected late runs on alone at the end
# while the other processes sit idle (`make test` also lets an idle process take tests queued
# for another: `--dist worksteal`).
LONGEST_FIRST = (
    "tests/e2e/test_production_shape.py",
    "tests/integration/test_worker_outages.py",
    "tests/e2e/test_broker_loss.py",
    "tests/integration/test_webhook_sigkill.py",
    "tests/e2e/test_secrets.py",
    "tests/integration/test_dead_letter_redrive.py",
    "tests/e2e/test_hub_up_supervision.py",
    "tests/browser/test_match_review_browser.py",
    "tests/e2e/test_identity_match.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.parts
        if ("e2e" in parts or "browser" in parts) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(JOURNEY_TIMEOUT_S))
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
