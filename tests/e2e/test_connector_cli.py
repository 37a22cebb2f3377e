"""Connectors as an operator drives them: `hub connectors import` against `hub up`, the folder watched by
the connector process `hub up` starts, `hub connectors status|pause|resume`, the API."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRETS_ENV
from tests.connector_samples import HEADER, issue_csv, many_rows_csv, move_line
from tests.e2e.conftest import RunningHub, run_hub
from tests.integration.connector_helpers import topic_event_ids
from tests.waiting import wait_for


def status_of(hub: RunningHub, name: str) -> dict[str, object]:
    result = run_hub("connectors", "status", "--json", env=hub.env)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return next(r for r in rows if r["name"] == name)


def test_import_and_folder_drop_against_a_running_hub(
    running_hub: RunningHub, tmp_path: Path
) -> None:
    hub = running_hub
    moves = tmp_path / "moves.csv"
    moves.write_bytes(issue_csv())
    first = run_hub("connectors", "import", str(moves), "--source", "council-tax", env=hub.env)
    assert first.returncode == 1, first.stderr  # some rows were rejected
    assert "8 rows: 3 published, 4 rejected, 1 duplicate" in first.stdout
    results = (tmp_path / "moves.csv.results.csv").read_text().splitlines()
    assert len(results) == 9 and results[0] == "row,outcome,event_id,errors"
    published = [line.split(",")[2] for line in results[1:] if ",published," in line]
    assert len(published) == 3

    again = run_hub("connectors", "import", str(moves), "--source", "council-tax", env=hub.env)
    assert "imported before" in again.stdout

    # the published rows are on the events topic, once each (the router takes it from there)
    running = json.loads((Path(hub.env["HUB_DATA_DIR"]) / "running.json").read_text())
    on_topic = asyncio.run(topic_event_ids(running["bootstrap"], "events.address.changed"))
    assert sorted(on_topic) == sorted(published)

    # the connector process `hub up` started watches the folder
    folder = Path(hub.env["HUB_DATA_DIR"]) / "drop" / "council-tax"
    folder.mkdir(parents=True, exist_ok=True)
    (tmp_path / "five.csv").write_bytes(many_rows_csv(5))
    shutil.move(tmp_path / "five.csv", folder / "five.csv")
    # the results file is written, then the file moved: wait for both
    wait_for(
        lambda: (
            (folder / "processed" / "five.csv.results.csv").exists()
            and not (folder / "five.csv").exists()
        ),
        "the drop imported and moved to processed/",
        60,
    )
    status = status_of(hub, "council-tax-moves")
    assert (status["published"], status["rejected"]) == (8, 4)

    imports = run_hub("connectors", "imports", env=hub.env)
    assert imports.returncode == 0
    assert (
        "moves.csv" in imports.stdout
        and "8 of 8" in imports.stdout
        and "five.csv" in imports.stdout
    )

    paused = run_hub("connectors", "pause", "council-tax-moves", env=hub.env)
    assert paused.returncode == 0 and status_of(hub, "council-tax-moves")["paused"] is True
    assert run_hub("connectors", "resume", "council-tax-moves", env=hub.env).returncode == 0
    assert status_of(hub, "council-tax-moves")["paused"] is False
    unknown = run_hub("connectors", "pause", "nope", env=hub.env)
    assert unknown.returncode == 2 and "no connector 'nope'" in " ".join(unknown.stderr.split())

    # the API: IG reads, a recipient may not, only an admin pauses
    ig = httpx.get(f"{hub.url}/v1/connectors", headers=hub.key("information-governance"))
    assert ig.status_code == 200
    (info,) = ig.json()
    assert info["name"] == "council-tax-moves" and info["published"] == 8
    assert httpx.get(f"{hub.url}/v1/connectors", headers=hub.key("parking")).status_code == 403
    refused = httpx.post(
        f"{hub.url}/v1/connectors/council-tax-moves/pause",
        headers=hub.key("information-governance"),
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"

    # a council's own export: Windows-1252 (a £ in an unmapped column), UK dates, one date in
    # no accepted form, named with its file, row and column
    council = tmp_path / "council.csv"
    council.write_bytes(
        "\r\n".join(
            [
                HEADER,
                move_line("P-60", moved_on="20/11/2026", note="paid \u00a325"),
                move_line("P-61", moved_on="2026-11-18", note="caf\u00e9"),
                move_line("P-62", moved_on="20/11/26"),
                "",
            ]
        ).encode("cp1252")
    )
    imported = run_hub("import", str(council), "--source", "council-tax", env=hub.env)
    assert imported.returncode == 1, imported.stdout + imported.stderr
    assert "3 rows: 2 published, 1 rejected" in imported.stdout, imported.stdout
    council_results = (tmp_path / "council.csv.results.csv").read_text().splitlines()
    assert [line.split(",")[1] for line in council_results[1:]] == [
        "published",
        "published",
        "rejected",
    ]
    assert (
        "council.csv row 4, column moved_on: not a date in the form dd/mm/yyyy or yyyy-mm-dd"
        in (council_results[3])
    )


def test_import_refuses_an_unreadable_file_with_exit_2(
    tmp_path: Path, hub_env: dict[str, str]
) -> None:
    bad = tmp_path / "export.csv"
    bad.write_bytes("person_id,moved_on\nP-1,2026-11-20\n".encode("utf-16"))
    result = run_hub(
        "connectors",
        "import",
        str(bad),
        "--source",
        "council-tax",
        env={**hub_env, **TEST_SECRETS_ENV, "HUB_KAFKA_BOOTSTRAP": "127.0.0.1:9"},
    )
    assert result.returncode == 2
    assert "UTF-16" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["connectors", "import"],
        ["connectors"],
        ["connectors", "status"],
        ["connectors", "imports"],
        ["run", "connectors"],
        ["bench", "import"],
    ],
)
def test_connector_commands_explain_themselves(command: list[str]) -> None:
    result = run_hub(*command, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout


def test_compose_file_has_the_connector_service() -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.skip("docker-compose not installed")
    env = {**os.environ, "HUB_PSEUDONYM_KEY": "test", "HUB_RECORD_SIGNING_KEY": "test"}
    result = subprocess.run(
        [compose, "config", "--services"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "hub-connectors" in result.stdout.split()
