"""Errors for people (issue 13): a misspelt or invalid setting, a bad JSON setting, an
unreachable database and an impossible date each end in one line naming what is wrong and what
to do, exit 2, and never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.settings import REPO_ROOT
from tests.conftest import TEST_SECRETS_ENV
from tests.e2e.conftest import run_hub


def one_line_error(result: object) -> str:
    assert result.returncode == 2, result.stdout
    stderr = str(result.stderr)
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("HUB_APIPORT", "9000", "HUB_APIPORT: not a hub setting: did you mean HUB_API_PORT?"),
        (
            "HUB_LOG_LEVEL",
            "verbose",
            "HUB_LOG_LEVEL: expected DEBUG, INFO, WARNING, ERROR or CRITICAL",
        ),
        ("HUB_WEBHOOK_SECRETS", "whsec_abc", "HUB_WEBHOOK_SECRETS: not valid JSON"),
        (  # was SQLAlchemy's ArgumentError traceback, at the first connection
            "HUB_DATABASE_URL",
            "hub.db",
            "HUB_DATABASE_URL: expected sqlite:////absolute/path/hub.db or postgresql://",
        ),
    ],
)
def test_a_bad_setting_refuses_to_start_naming_the_variable(
    hub_env: dict[str, str], variable: str, value: str, expected: str
) -> None:
    line = one_line_error(run_hub("config", "check", env={**hub_env, variable: value}))
    assert expected in line


def test_a_data_dir_that_cannot_be_made_is_one_line_naming_hub_data_dir(
    hub_env: dict[str, str],
) -> None:
    """It was FileNotFoundError's traceback, from making the embedded default's secrets."""
    line = one_line_error(run_hub("config", "check", env={**hub_env, "HUB_DATA_DIR": "/proc/x"}))
    assert "cannot use the data directory: HUB_DATA_DIR: /proc/x:" in line
    assert "set HUB_DATA_DIR to a directory this user can create and write" in line


def test_an_unreachable_database_is_one_line_without_its_password(
    hub_env: dict[str, str],
) -> None:
    env = {
        **hub_env,
        **TEST_SECRETS_ENV,
        "HUB_KAFKA_BOOTSTRAP": "127.0.0.1:9",
        "HUB_DATABASE_URL": "postgresql://hub:s3cret-pw@127.0.0.1:1/hub",
    }
    line = one_line_error(run_hub("run", "worker", env=env))
    assert "postgresql+psycopg://hub:***@127.0.0.1:1/hub (HUB_DATABASE_URL)" in line
    assert "s3cret-pw" not in line and "Check HUB_DATABASE_URL" in line


@pytest.mark.parametrize("command", [("config", "check"), ("agreements", "check")])
def test_an_impossible_date_names_file_line_and_field(
    hub_env: dict[str, str], tmp_path: Path, command: tuple[str, ...]
) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    dsa = config / "agreements" / "DSA-001-waste-address.yaml"
    dsa.write_text(dsa.read_text().replace("review_by: 2027-06-30", "review_by: 2028-13-31"))
    line = one_line_error(run_hub(*command, env={**hub_env, "HUB_CONFIG_DIR": str(config)}))
    assert f"{dsa}:14 (review_by): not a date (month must be 1 to 12)" in line
