"""`hub deliveries ...` and `hub bench webhooks` as an operator uses them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hub.settings import REPO_ROOT
from tests.e2e.conftest import run_hub

COMMANDS = [
    ["deliveries"],
    ["deliveries", "dead"],
    ["deliveries", "redrive"],
    ["deliveries", "endpoints"],
    ["deliveries", "enable"],
    ["bench-webhooks"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_delivery_commands_explain_themselves(command: list[str]) -> None:
    result = run_hub(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_no_dead_letters_and_the_endpoint_listing(tmp_path: Path, hub_env: dict[str, str]) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    systems = config / "systems.yaml"
    systems.write_text(
        systems.read_text().replace(
            "    subscriptions: [address.changed, death.notified]\n  - id: libraries",
            "    subscriptions: [address.changed, death.notified]\n    delivery:\n"
            "      kind: webhook\n      url: https://waste.example/hooks\n  - id: libraries",
            1,
        )
    )
    env = {**hub_env, "HUB_CONFIG_DIR": str(config)}
    assert run_hub("db", "upgrade", env=env).returncode == 0  # a hub, with nothing sent yet
    dead = run_hub("deliveries", "dead", env=env)
    assert dead.returncode == 0, dead.stderr
    assert "No dead letters." in dead.stdout
    for_waste = run_hub("deliveries", "dead", "--recipient", "waste", env=env)
    assert for_waste.returncode == 0 and "No dead letters." in for_waste.stdout
    for command in ("dead", "redrive"):  # a recipient never known: said, not "none"
        typo = run_hub("deliveries", command, "--recipient", "wast", env=env)
        assert typo.returncode == 2 and "No dead letters." not in typo.stdout, command
        said = " ".join(typo.stderr.split())
        assert "recipient: 'wast' is not a receiving system in the configuration" in said
    quarantine = run_hub("deliveries", "quarantine", "--topic", "audit", env=env)
    assert quarantine.returncode == 0 and "Nothing quarantined" in quarantine.stdout
    typo = run_hub("deliveries", "quarantine", "--topic", "audits", env=env)
    assert typo.returncode == 2 and "Nothing quarantined" not in typo.stdout
    assert "topic: 'audits' is not one of the hub's topics" in " ".join(typo.stderr.split())
    endpoints = run_hub("deliveries", "endpoints", env=env)
    assert endpoints.returncode == 0, endpoints.stderr
    # no signing secret: nothing is sent to it (its deliveries are held), and it says so
    assert "waste" in endpoints.stdout and "HELD: no secret in HUB_WEBHOOK_SECRETS" in " ".join(
        endpoints.stdout.split()
    )
    secret = json.dumps({"waste": ["whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0"]})
    signed = run_hub("deliveries", "endpoints", env={**env, "HUB_WEBHOOK_SECRETS": secret})
    assert "enabled" in signed.stdout and "HELD" not in signed.stdout


def test_enabling_an_unknown_recipient_is_an_error_a_person_can_act_on(
    hub_env: dict[str, str],
) -> None:
    result = run_hub("deliveries", "enable", "nobody", env=hub_env)
    assert result.returncode == 2
    assert "nobody" in result.stderr and "no such system" in result.stderr


def test_a_bad_webhook_secrets_setting_names_the_variable(hub_env: dict[str, str]) -> None:
    env = {**hub_env, "HUB_WEBHOOK_SECRETS": json.dumps(["not", "a", "mapping"])}
    result = run_hub("deliveries", "dead", env=env)
    assert result.returncode == 2
    assert "HUB_WEBHOOK_SECRETS" in result.stderr
