"""The API re-reads the configuration directory as the worker does (issue 13): a new source's
key works without a restart, the dashboard flags an agreement past review, and a broken edit is
refused whole, shown in a banner with file, line and field, the previous configuration in force."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.broker.embedded import EmbeddedBroker
from hub.settings import REPO_ROOT, HubSettings
from runtime.api import create_app
from runtime.wiring import open_stores
from tests.waiting import wait_for
from tests.workbench_client import key_sign_in

DSA1 = "agreements/DSA-001-waste-address.yaml"
NEW_KEY = "new-housing-source-key-0123456789abcdef"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", target)
    return target


@pytest.fixture
def client(broker: EmbeddedBroker, settings: HubSettings, config_dir: Path) -> Iterator[TestClient]:
    api = settings.model_copy(
        update={
            "kafka_bootstrap": broker.bootstrap,
            "config_dir": config_dir,
            "config_reload_interval_s": 0.1,
            "allow_demo_keys": True,  # the laptop default: IG signs in with its key
        }
    )
    open_stores(api, schema="create").engine.dispose()
    with TestClient(create_app(api)) as c:
        signed_in = key_sign_in(c)
        assert signed_in.status_code == 303, signed_in.text
        yield c


def edit(config_dir: Path, name: str, old: str, new: str) -> None:
    file = config_dir / name
    text = file.read_text()
    assert text.count(old) == 1, f"{old!r} not found once in {name}"
    file.write_text(text.replace(old, new))


def test_a_new_source_key_works_without_a_restart(client: TestClient, config_dir: Path) -> None:
    headers = {"Authorization": f"Bearer {NEW_KEY}"}
    assert client.post("/v1/events", json={}, headers=headers).status_code == 401
    with (config_dir / "systems.yaml").open("a") as f:
        f.write(
            "  - id: housing-new\n    name: Housing (new)\n    roles: [source]\n"
            f"    api_key_sha256: {hashlib.sha256(NEW_KEY.encode()).hexdigest()}\n"
        )
    # known now: the (empty) event is refused for what it lacks, not for who sent it
    wait_for(
        lambda: client.post("/v1/events", json={}, headers=headers).status_code == 422,
        "the new key to be accepted",
        20,
    )


def test_the_dashboard_follows_review_dates_and_shows_a_refused_edit(
    client: TestClient, config_dir: Path
) -> None:
    def dsa1_row() -> str:
        page = client.get("/dashboard/agreements").text
        return next(line for line in page.splitlines() if '/dashboard/agreements/DSA-001"' in line)

    assert dsa1_row().endswith("<td>No</td></tr>")
    edit(config_dir, DSA1, "review_by: 2027-06-30", "review_by: 2025-01-31")
    wait_for(lambda: "Past its review date" in dsa1_row(), "DSA-001 flagged past review", 20)

    edit(config_dir, DSA1, "review_by: 2025-01-31", "review_by: 2028-02-30")
    banner = (
        f"configuration change refused: {config_dir / DSA1}:14 review_by: not a date "
        "(that month has no such day)"
    )
    wait_for(lambda: banner in client.get("/dashboard").text, "the refusal banner", 20)
    assert "Past its review date" in dsa1_row()  # the previous configuration stays in force
    # a key check still works on the configuration in force
    ig = {"Authorization": "Bearer demo-information-governance-key"}
    assert client.get("/v1/audit/agreements", headers=ig).status_code == 200
