"""The CLI as a person uses it: help everywhere, precise errors, the demo from start to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.settings import REPO_ROOT
from tests.e2e.conftest import run_hub

COMMANDS = [
    [],
    ["up"],
    ["demo"],
    ["init"],
    ["health"],
    ["run", "worker"],
    ["run", "api"],
    ["bench"],
    ["bench", "codec"],
    ["agreements", "explain"],
    ["agreements", "check"],
    ["deliveries", "held"],
    ["events", "rejected"],
    ["config", "schemas"],
    ["audit", "list"],
    ["keys", "new"],
    ["deliveries", "quarantine"],
    # the names before the tree, for one release
    ["worker"],
    ["bench-codec"],
    ["review", "list"],
    ["schemas", "check"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "hub")
def test_every_command_explains_itself(command: list[str]) -> None:
    result = run_hub(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert len(result.stdout.strip().splitlines()) > 3


def test_config_check_names_file_line_and_field(tmp_path: Path, hub_env: dict[str, str]) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    agreement = config / "agreements" / "DSA-003-parking-address.yaml"
    agreement.write_text(
        agreement.read_text().replace("new_address.postcode", "new_address.colour")
    )
    ok = run_hub("config", "check", env=hub_env)
    assert ok.returncode == 0 and "9 systems, 6 agreements" in ok.stdout
    bad = run_hub("config", "check", env={**hub_env, "HUB_CONFIG_DIR": str(config)})
    assert bad.returncode != 0
    message = " ".join(bad.stderr.split())
    assert "DSA-003-parking-address.yaml:6" in message
    assert "shares.address.changed.1" in message
    assert "has no field 'new_address.colour'" in message


def test_bad_setting_is_named(hub_env: dict[str, str]) -> None:
    result = run_hub("config", "check", env={**hub_env, "HUB_TOPIC_PARTITIONS": "lots"})
    assert result.returncode != 0
    assert "HUB_TOPIC_PARTITIONS" in result.stderr


def test_a_setting_naming_what_the_configuration_lacks_is_a_warning(
    hub_env: dict[str, str],
) -> None:
    """A typo in a threshold's event type was taken silently, and never applied."""
    thresholds = '{"*": [0.999, 0.5], "address.moved": [0.99, 0.5]}'
    result = run_hub("config", "check", env={**hub_env, "HUB_MATCH_THRESHOLDS": thresholds})
    assert result.returncode == 0 and "OK: 9 systems" in result.stdout  # the config is fine
    said = " ".join(result.stderr.split())
    assert "warning: HUB_MATCH_THRESHOLDS: 'address.moved' is not an event type" in said
    assert "warning" not in run_hub("config", "check", env=hub_env).stderr


def test_a_connector_mapping_short_of_a_required_field_is_a_warning(
    hub_env: dict[str, str], tmp_path: Path
) -> None:
    """It loaded, then every row it read was rejected for want of effective_date."""
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    connectors = config / "connectors.yaml"
    connectors.write_text(connectors.read_text().replace("      effective_date: moved_on\n", ""))
    result = run_hub("config", "check", env={**hub_env, "HUB_CONFIG_DIR": str(config)})
    said = " ".join(result.stderr.split())
    assert result.returncode == 0 and "1 source connector" in result.stdout
    assert "warning: connectors.yaml: council-tax-moves: nothing maps effective_date" in said


def test_worker_without_broker_says_what_to_set(hub_env: dict[str, str]) -> None:
    result = run_hub("run", "worker", env=hub_env)
    assert result.returncode != 0
    assert "HUB_KAFKA_BOOTSTRAP" in result.stderr


def test_a_worker_on_a_real_cluster_without_a_record_key_does_not_start(
    hub_env: dict[str, str],
) -> None:
    env = {**hub_env, "HUB_KAFKA_BOOTSTRAP": "127.0.0.1:9"}
    result = run_hub("run", "worker", env=env)
    assert result.returncode != 0
    assert "HUB_RECORD_SIGNING_KEY" in result.stderr


def test_keys_new_prints_a_key_and_its_hash() -> None:
    result = run_hub("keys", "new", "waste")
    assert result.returncode == 0
    assert "api_key_sha256:" in result.stdout and "tio_" in result.stdout
    # an id systems.yaml refuses got a key and a line to paste that could never load
    bad = run_hub("keys", "new", "Waste Dept")
    said = " ".join(bad.stderr.replace("│", " ").split())
    assert bad.returncode == 2 and "tio_" not in bad.stdout
    assert "'Waste Dept' is not a system id: lower-case letters, digits and '-'" in said


def test_demo_plays_the_scenario_and_prints_the_audit_table(hub_env: dict[str, str]) -> None:
    result = run_hub("demo", env=hub_env, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert out.count("202 accepted") == 2
    assert "HTTP 422" in out
    assert "8 delivered, 2 withheld" in out
    rows = [line for line in out.splitlines() if line.startswith("│ ")]
    libraries = next(r for r in rows if "Libraries" in r and "address.changed" in r)
    assert "withheld" in libraries and "no agreement lets" in libraries
    waste = next(r for r in rows if "Waste and Recycling" in r and "address.changed" in r)
    assert "delivered" in waste and "effective_date, new_address" in waste and "DSA-001" in waste
    assert "Stack stopped; nothing left running." in out


def test_schemas_check_fails_on_a_breaking_change(tmp_path: Path, hub_env: dict[str, str]) -> None:
    import json

    schemas = tmp_path / "avro"
    shutil.copytree(REPO_ROOT / "schemas" / "avro", schemas)
    v3 = json.loads((schemas / "death.notified.v2.avsc").read_text())
    verified = next(f for f in v3["fields"] if f["name"] == "verified_by")
    verified["type"]["symbols"].remove(
        "coroner"
    )  # readers of v3 cannot read v2 data saying coroner
    v3["fields"].append({"name": "certificate_number", "type": "string"})  # no default
    (schemas / "death.notified.v3.avsc").write_text(json.dumps(v3))
    index = json.loads((schemas / "registry.json").read_text())
    index["schemas"].append(
        {"id": 11, "type": "death.notified", "version": 3, "file": "death.notified.v3.avsc"}
    )
    (schemas / "registry.json").write_text(json.dumps(index))

    env = {**hub_env, "HUB_SCHEMA_DIR": str(schemas)}
    ok = run_hub("config", "schemas", env=hub_env)
    assert ok.returncode == 0 and "BACKWARD compatible" in ok.stdout
    bad = run_hub("config", "schemas", env=env)
    assert bad.returncode == 1
    message = " ".join(bad.stderr.split())
    assert (
        "death.notified v3 cannot read v2 data (backward): verified_by: enum_symbol_missing"
        in message
    )
    assert "certificate_number: field_missing_no_default" in message
    forward_only = run_hub("config", "schemas", "--mode", "FORWARD", env=env)
    assert (
        forward_only.returncode == 0
    )  # old readers ignore the new field; v3's symbols all exist in v2
    unknown = run_hub("config", "schemas", "--mode", "SIDEWAYS", env=env)
    assert unknown.returncode != 0 and "BACKWARD" in unknown.stderr
