"""Pointed at the wrong data directory, read commands refuse, naming the database, the setting
and what to do; they create no database there (issue 13, "no silent empties")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import run_hub

PURPOSE = "SAR 2026-0142 from the resident"


@pytest.mark.parametrize(
    "command",
    [
        ("audit", "verify"),
        ("audit", "report", "--hub-id", "P-100234", "--purpose", PURPOSE),
        ("audit", "list", "--recipient", "waste"),
        ("audit", "agreements"),
        ("review", "list"),
        ("deliveries", "dead"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_read_command_refuses_a_data_dir_without_a_hub(
    command: tuple[str, ...], hub_env: dict[str, str]
) -> None:
    result = run_hub(*command, env=hub_env)
    db = Path(hub_env["HUB_DATA_DIR"]).resolve() / "hub.db"
    message = " ".join(result.stderr.split())
    assert result.returncode != 0, result.stdout
    assert f"no hub database at {db}" in message
    assert "HUB_DATA_DIR" in message and "hub db upgrade" in message
    assert "Traceback" not in result.stderr and "OK: chain intact" not in result.stdout
    assert not db.exists()


def test_a_subject_report_about_a_person_never_seen_says_so(hub_env: dict[str, str]) -> None:
    assert run_hub("db", "upgrade", env=hub_env).returncode == 0
    result = run_hub("audit", "report", "--hub-id", "P-100234", "--purpose", PURPOSE, env=hub_env)
    assert result.returncode == 0, result.stderr
    assert "not known to the hub" in " ".join(result.stdout.split())
    as_json = run_hub(
        "audit", "report", "--hub-id", "P-100234", "--purpose", PURPOSE, "--json", env=hub_env
    )
    assert '"known_to_hub": false' in as_json.stdout
    # the person's links, and who read about a key: the same person never seen, a malformed key
    links = run_hub("match", "links", "P-100234", env=hub_env)
    assert links.returncode == 2, links.stdout
    assert "never seen person 'P-100234'" in " ".join(links.stderr.split())
    malformed = run_hub("audit", "access-log", "--subject-key", "P-100234", env=hub_env)
    said = " ".join(malformed.stderr.replace("│", " ").split())
    assert malformed.returncode == 2 and "32 hexadecimal digits" in said
    well_formed = run_hub("audit", "access-log", "--subject-key", "0" * 32, env=hub_env)
    assert well_formed.returncode == 0, well_formed.stderr
