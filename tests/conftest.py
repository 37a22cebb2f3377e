"""Shared fixtures: settings in a temp dir, the embedded broker, a throw-away PostgreSQL on loopback."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from hub.audit.signing import generate_private_pem
from hub.broker.embedded import EmbeddedBroker, free_port
from hub.settings import REPO_ROOT, HubSettings

SAMPLE_CONFIG = REPO_ROOT / "config"
WIDE_WINDOW_DAYS = 36_500
TEST_SIGNING_PEM = generate_private_pem().decode()
# What a production process must be given (processes started on these settings get them through
# settings_env); the repository's config holds demo API keys, so tests allow them explicitly.
TEST_SECRETS: dict[str, object] = {
    "pseudonym_key": SecretStr("test-pseudonym-key-" + "p" * 32),
    "record_signing_key": SecretStr("test-record-signing-key-" + "r" * 32),
    "audit_signing_key": SecretStr(TEST_SIGNING_PEM),
    "allow_demo_keys": True,
}
# The same as environment variables, for `hub` processes against a fixture broker.
TEST_SECRETS_ENV = {
    "HUB_PSEUDONYM_KEY": "test-pseudonym-key-" + "p" * 32,
    "HUB_RECORD_SIGNING_KEY": "test-record-signing-key-" + "r" * 32,
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


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server started for this test run on loopback (Debian's package)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (make test installs them)")
    root = os.geteuid() == 0
    data = Path(tempfile.mkdtemp(prefix="hub-pg-"))
    run_as: list[str] = []
    if root:
        shutil.chown(data, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(data / "db"),
            "-U",
            "hub",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *run_as,
            str(bindir / "pg_ctl"),
            "-D",
            str(data / "db"),
            "-l",
            str(data / "log"),
            "-w",
            "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(
            [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
        ).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start")
            time.sleep(0.2)
        subprocess.run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "hub", "hub"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://hub@127.0.0.1:{port}/hub"
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(data, ignore_errors=True)
