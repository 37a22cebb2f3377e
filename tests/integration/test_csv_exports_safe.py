"""Every CSV export IG opens in a spreadsheet carries `local_id: "=cmd|' /C calc'!A0"` as text:
`hub audit list --csv`, the API's transfers CSV, the dashboard download (issue 13)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hub.audit.store import AuditStore
from hub.broker.embedded import EmbeddedBroker
from hub.settings import HubSettings
from runtime.api import create_app
from runtime.wiring import open_stores
from tests.conftest import TEST_SECRETS_ENV
from tests.integration.test_audit_chain import T0, entry
from tests.workbench_client import key_sign_in

ATTACK = "=cmd|' /C calc'!A0"
IG = {"Authorization": "Bearer demo-information-governance-key"}


@pytest.fixture
def api_settings(broker: EmbeddedBroker, settings: HubSettings) -> HubSettings:
    stores = open_stores(settings, schema="create")
    AuditStore(stores.engine).write(
        [entry(1).model_copy(update={"local_id": ATTACK}), entry(2)], T0
    )
    stores.engine.dispose()
    return settings.model_copy(
        update={"kafka_bootstrap": broker.bootstrap, "allow_demo_keys": True}
    )


@pytest.fixture
def client(api_settings: HubSettings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as c:
        yield c


def local_ids(text: str) -> list[str]:
    return [row["local_id"] for row in csv.DictReader(io.StringIO(text))]


def test_the_api_and_dashboard_csv_escape_a_formula(client: TestClient) -> None:
    api = client.get("/v1/audit/transfers", params={"format": "csv"}, headers=IG)
    assert api.status_code == 200, api.text
    assert local_ids(api.text) == ["'" + ATTACK, "W-2"]
    signed_in = key_sign_in(client)
    assert signed_in.status_code == 303, signed_in.text
    page = client.get("/dashboard/search", params={"format": "csv", "source": "council-tax"})
    assert page.status_code == 200, page.text
    assert local_ids(page.text) == ["'" + ATTACK, "W-2"]


def test_the_cli_export_escapes_a_formula(api_settings: HubSettings) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(TEST_SECRETS_ENV)
    env["HUB_DATA_DIR"] = str(api_settings.data_dir)
    result = subprocess.run(
        [sys.executable, "-m", "cli", "audit", "list", "--csv"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert local_ids(result.stdout) == ["'" + ATTACK, "W-2"]
