"""docs/configuration.md is what `python -m hub.settings_doc` prints from HubSettings: a setting
added, renamed or re-described without regenerating it fails here."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from hub.settings import REPO_ROOT, HubSettings
from hub.settings_doc import main, render, type_name

DOC = REPO_ROOT / "docs" / "configuration.md"


def test_the_configuration_doc_is_what_the_generator_prints() -> None:
    assert DOC.read_text() == render(), (
        "docs/configuration.md differs from HubSettings: run "
        "`python -m hub.settings_doc > docs/configuration.md` (or `make docs`)"
    )


def test_every_setting_has_a_description_and_a_row() -> None:
    text = DOC.read_text()
    for name, field in HubSettings.model_fields.items():
        assert field.description, f"HubSettings.{name} has no description"
        assert f"| `HUB_{name.upper()}` | `{name}` |" in text


def test_secrets_show_no_default() -> None:
    rows = {
        line.split(" | ")[0][3:-1]: line
        for line in render().splitlines()
        if line.startswith("| `HUB_")
    }
    secrets = [
        name
        for name, field in HubSettings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    ]
    assert "pseudonym_key" in secrets and "webhook_secrets" in secrets
    for name in secrets:
        assert "| none (secret) |" in rows[f"HUB_{name.upper()}"], rows[f"HUB_{name.upper()}"]


def test_defaults_are_shown_as_an_operator_sets_them() -> None:
    rows = {
        line.split(" | ")[0][3:-1]: line
        for line in render().splitlines()
        if line.startswith("| `HUB_")
    }
    assert "| `<checkout>/config` |" in rows["HUB_CONFIG_DIR"]  # not `./config`
    assert "| `<checkout>/schemas/avro` |" in rows["HUB_SCHEMA_DIR"]
    assert "| `.hub-data` |" in rows["HUB_DATA_DIR"]
    assert "| `false` |" in rows["HUB_ALLOW_DEMO_KEYS"]
    assert "| `[5, 300, 1800," in rows["HUB_WEBHOOK_RETRY_SCHEDULE_S"]
    assert type_name(SecretStr | None) == "secret (optional)"


def test_check_mode_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text(render().replace("HUB_DATA_DIR", "HUB_DATA_DIRECTORY"))
    assert main(["--check", str(stale)]) == 1
    assert main(["--check", str(DOC)]) == 0
