"""IG's workbench driven as IG drives it, on a running hub: the demo scenario, then the API, the
CLI, /metrics and /readyz; and a scan of the audit store, logs and metrics for personal data."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import httpx

from runtime.demo import SCENARIO
from tests.e2e.conftest import RunningHub, run_hub
from tests.e2e.ig_scenario import IG, PERSON, personal_values, play_scenario
from tests.waiting import wait_for


def test_ig_answers_who_got_what_and_proves_the_trail(
    running_hub: RunningHub, tmp_path: Path
) -> None:
    hub = running_hub
    rows = play_scenario(hub)
    moved = [r for r in rows if r["event_type"] == "address.changed"]
    delivered_to = sorted(r["recipient"] for r in moved if r["outcome"] == "delivered")
    withheld_from = sorted(r["recipient"] for r in moved if r["outcome"] == "withheld")
    assert delivered_to and withheld_from

    with httpx.Client(base_url=hub.url, timeout=10) as client:
        # a read about a person needs a purpose
        refused = client.get("/v1/audit/subject-access", params={"hub_id": PERSON}, headers=IG)
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "purpose_required"
        # only IG may read the audit
        parking = client.get(
            "/v1/audit/transfers", headers={"Authorization": "Bearer demo-parking-key"}
        )
        assert parking.status_code == 403

        params = {"hub_id": PERSON, "purpose": "SAR 2026-0142 from the resident"}
        report = client.get("/v1/audit/subject-access", params=params, headers=IG).json()
        assert sorted(line["recipient"] for line in report["delivered"]) == delivered_to
        assert sorted(line["recipient"] for line in report["withheld"]) == withheld_from
        assert report["requested_by"] == "information-governance"
        by_local_id = client.get(
            "/v1/audit/subject-access",
            params={"local_id": "CT-4471902", "purpose": params["purpose"]},
            headers=IG,
        ).json()
        assert by_local_id["delivered"] == report["delivered"]
        page = client.get(
            "/v1/audit/subject-access", params={**params, "format": "html"}, headers=IG
        )
        assert page.status_code == 200 and "<h1" in page.text
        for recipient in delivered_to:
            assert recipient in page.text

        exported = client.get("/v1/audit/transfers", params={**params, "format": "csv"}, headers=IG)
        table = list(csv.DictReader(io.StringIO(exported.text)))
        transfers = [r for r in table if r["outcome"] != "linked"]
        assert sorted(r["recipient"] for r in transfers) == sorted(delivered_to + withheld_from)
        # the person's links (person.linked from the customer index) are in the trail too
        assert {r["event_type"] for r in table if r["outcome"] == "linked"} == {"identity.link"}

        log = client.get("/v1/audit/access-log", headers=IG).json()
        assert [e["what"] for e in log] == [
            "transfer_search",
            "subject_access_report",
            "subject_access_report",
            "subject_access_report",
        ]
        assert all(e["purpose"] == params["purpose"] for e in log)
        assert client.get("/v1/audit/verify", headers=IG).json()["ok"] is True
        assert client.get("/v1/audit/agreements", headers=IG).status_code == 200
        withheld = client.get("/v1/audit/withheld", headers=IG).json()
        assert sum(w["count"] for w in withheld) == len(
            [r for r in rows if r["outcome"] == "withheld"]
        )
        # dates that run backwards: refused naming the last day, never an empty answer
        for path, (first, last) in {
            "/v1/audit/withheld": ("from", "to"),
            "/v1/audit/transfers": ("from", "to"),
            "/v1/audit/consent-withdrawals": ("from", "to"),
            "/v1/quality": ("since", "until"),
            "/v1/rejected": ("from", "to"),
        }.items():
            backwards = client.get(
                path,
                params={first: "2026-12-31", last: "2026-01-01", "recipient": "waste"},
                headers=IG,
            )
            assert backwards.status_code == 422, (path, backwards.text)
            (problem,) = backwards.json()["error"]["problems"]
            assert problem["field"] == f"query.{last}" and problem["rule"] == "before_first"

        lag = 'hub_consumer_lag{group="tell-it-once-hub.audit-writer",topic="audit"}'
        metrics = wait_for(  # the gauges are recomputed every 15 s in the background
            lambda: lag in (text := client.get("/metrics").text) and text,
            "the audit writer's lag on /metrics",
            60,
            every=0.5,
        )
        assert "hub_audit_chain_head_seq" in metrics and "hub_http_requests_total" in metrics
        ready = client.get("/readyz").json()
        assert ready["checks"] == {"broker": True, "database": True}
        assert ready["workers"]["live"] == 1

    # the CLI: verify, checkpoint, a report needs a purpose
    assert run_hub("audit", "verify", env=hub.env).returncode == 0
    cp = tmp_path / "checkpoint.json"
    assert run_hub("audit", "checkpoint", "--out", str(cp), env=hub.env).returncode == 0
    verified = run_hub("audit", "verify", "--checkpoint", str(cp), env=hub.env)
    assert verified.returncode == 0, verified.stderr
    no_purpose = run_hub("audit", "report", "--hub-id", PERSON, env=hub.env)
    assert no_purpose.returncode == 2 and "purpose" in no_purpose.stderr
    backwards = run_hub(
        "audit", "withheld", "--from", "2026-12-31", "--to", "2026-01-01", env=hub.env
    )
    said = " ".join(backwards.stderr.split())
    assert backwards.returncode == 2 and "--to: 2026-01-01 is before --from (2026-12-31)" in said
    cli_report = run_hub(
        "audit", "report", "--hub-id", PERSON, "--purpose", "SAR 2026-0142", "--json",
        env=hub.env,
    )  # fmt: skip
    assert cli_report.returncode == 0, cli_report.stderr
    assert (
        sorted(x["recipient"] for x in json.loads(cli_report.stdout)["delivered"]) == delivered_to
    )

    # keys: an admin (made on the command line) issues an IG key over the API, shown once;
    # rotating it revokes the old one
    made = run_hub("keys", "new", "ops-admin", "--role", "admin", env=hub.env)
    assert made.returncode == 0, made.stderr
    admin = {"Authorization": f"Bearer {made.stdout.split()[-1]}"}
    with httpx.Client(base_url=hub.url, timeout=10) as client:
        body = {"id": "ig-alice", "name": "Alice (IG)", "roles": ["ig"]}
        assert client.post("/v1/admin/systems", json=body, headers=IG).status_code == 403
        issued = client.post("/v1/admin/systems", json=body, headers=admin)
        assert issued.status_code == 201, issued.text
        alice = {"Authorization": f"Bearer {issued.json()['api_key']}"}
        assert client.get("/v1/audit/withheld", headers=alice).status_code == 200
        again = client.post("/v1/admin/systems", json=body, headers=admin)
        assert again.status_code == 409 and again.json()["error"]["code"] == "system_exists"
        # a systems.yaml system cannot be re-created with other roles either (issue 12)
        squat = {"id": "registrar", "name": "Registrar", "roles": ["ig"]}
        refused = client.post("/v1/admin/systems", json=squat, headers=admin)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "system_exists"
        assert "hub keys rotate" in refused.json()["error"]["message"]
        rotated = client.post("/v1/admin/systems/ig-alice/rotate-key", headers=admin).json()
        assert client.get("/v1/audit/withheld", headers=alice).status_code == 401
        fresh = {"Authorization": f"Bearer {rotated['api_key']}"}
        assert client.get("/v1/audit/withheld", headers=fresh).status_code == 200

    # someone edits a row behind the hub's back: verify names it
    db = Path(hub.env["HUB_DATA_DIR"]) / "hub.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit_record SET recipient = 'electoral' WHERE seq = 2")
    tampered = run_hub("audit", "verify", env=hub.env)
    assert tampered.returncode == 1 and "row 2" in tampered.stderr


AUDIT_TABLES = (
    "audit_record",
    "audit_access_log",
    "audit_checkpoint",
    "audit_chain_head",
    "quality_counter",
    "worker_heartbeat",
)


def test_no_personal_value_reaches_the_audit_store_logs_or_metrics(
    running_hub: RunningHub,
) -> None:
    hub = running_hub
    play_scenario(hub)
    with httpx.Client(base_url=hub.url, timeout=10) as client:
        params = {"hub_id": PERSON, "purpose": "SAR 2026-0142 from the resident"}
        assert client.get("/v1/audit/subject-access", params=params, headers=IG).status_code == 200
        metrics = client.get("/metrics").text
    data_dir = Path(hub.env["HUB_DATA_DIR"])
    with sqlite3.connect(data_dir / "hub.db") as conn:
        dumped = {
            table: "\n".join(repr(row) for row in conn.execute(f"SELECT * FROM {table}"))
            for table in AUDIT_TABLES
        }
    assert "address.changed" in dumped["audit_record"]  # the scan reads real rows
    logs = {p.name: p.read_text(errors="replace") for p in data_dir.rglob("*.log")}
    assert logs, f"no logs under {data_dir}"
    places = {**dumped, **logs, "/metrics": metrics}
    found = [
        f"{value!r} in {where}"
        for value in personal_values()
        for where, text in places.items()
        if value.lower() in text.lower()
    ]
    assert not found, found
    # the audit store keys people by their pseudonym, never by the hub id
    for table in ("audit_record", "audit_access_log"):
        assert PERSON not in dumped[table] and SCENARIO[1].body["subject"] not in dumped[table]
