"""The policy engine as IG and operators drive it: explain, agreements, the review queue."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import RunningHub, run_hub
from tests.people import post_links
from tests.waiting import wait_for

MOVE = {
    "source": "council-tax",
    "type": "address.changed",
    "subject": "P-100234",
    "data": {
        "previous_address": {
            "uprn": "100023336956",
            "lines": ["2 Mill Lane"],
            "postcode": "EX1 2AB",
        },
        "new_address": {
            "uprn": "100023412345",
            "lines": ["7 Orchard Close"],
            "postcode": "EX4 7QT",
        },
        "effective_date": "2026-11-20",
    },
}


def test_agreements_check_names_the_file_line_and_field_of_every_problem(tmp_path: Path) -> None:
    import shutil

    from hub.settings import REPO_ROOT

    good = run_hub("agreements", "check")
    assert good.returncode == 0 and "no problems" in good.stdout
    broken = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", broken)
    dsa = broken / "agreements" / "DSA-003-parking-address.yaml"
    dsa.write_text(
        dsa.read_text().replace("recipients: [parking]", "recipients: [parking, bin-men]")
    )
    bad = run_hub("agreements", "check", str(broken))
    assert bad.returncode == 2
    assert "DSA-003-parking-address.yaml:4 (recipients.1): unknown system 'bin-men'" in bad.stderr

    listed = run_hub("agreements", "list", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["id"] for r in rows] == [f"DSA-00{i}" for i in range(1, 7)]
    assert all(len(r["version"]) == 12 and r["status"] == "active" for r in rows)


def test_explain_and_the_review_queue_over_http_and_the_cli(
    running_hub: RunningHub, tmp_path: Path
) -> None:
    hub = running_hub
    ig = hub.key("information-governance")

    # a person nobody has linked: accepted, then held for review (not dropped)
    stranger = {**MOVE, "subject": "P-404"}
    del stranger["source"]
    assert (
        httpx.post(
            f"{hub.url}/v1/events", json=stranger, headers=hub.key("council-tax")
        ).status_code
        == 202
    )
    queued = wait_for(
        lambda: httpx.get(f"{hub.url}/v1/review", headers=ig).json(), "an event in the review queue"
    )
    assert [q["event_type"] for q in queued] == ["address.changed"]
    assert "P-404" not in json.dumps(queued)  # pseudonymous key only
    assert httpx.get(f"{hub.url}/v1/review", headers=hub.key("waste")).status_code == 403
    listed = run_hub("deliveries", "held", "--json", env=hub.env)
    assert [json.loads(line)["seq"] for line in listed.stdout.splitlines()] == [queued[0]["id"]]
    retried = run_hub("deliveries", "retry", str(queued[0]["id"]), env=hub.env)
    assert retried.returncode == 0, retried.stderr
    # still nobody linked: routed again, it comes straight back to the queue
    wait_for(lambda: httpx.get(f"{hub.url}/v1/review", headers=ig).json(), "the retried event back")
    # held, retried and held again, it is one event on the data quality page
    report = httpx.get(f"{hub.url}/v1/quality", params={"source": "council-tax"}, headers=ig)
    counted = [(r["event_type"], r["outcome"], r["count"]) for r in report.json()["rows"]]
    assert counted == [("address.changed", "accepted", 1)]
    missing = run_hub("deliveries", "retry", "999", env=hub.env)
    assert missing.returncode == 2 and "there is no review item 999" in missing.stderr

    # explain: the person is linked to Waste and Parking only
    post_links(hub.url, "P-100234", ("waste", "parking"))
    time.sleep(1.0)
    fan_out = httpx.post(f"{hub.url}/v1/policy/explain", json={"event": MOVE}, headers=ig)
    assert fan_out.status_code == 200, fan_out.text
    body = fan_out.json()
    decided = {r["recipient"]: r for r in body["recipients"]}
    assert body["subject_resolved"] is True
    assert decided["parking"]["decision"] == "allow"
    assert decided["parking"]["fields"] == [
        "effective_date",
        "new_address.postcode",
        "new_address.uprn",
    ]
    assert decided["parking"]["agreement_id"] == "DSA-003" and decided["parking"]["lawful_basis"]
    assert decided["electoral"]["decision"] == "allow" and decided["electoral"]["match_only"]
    assert [r["code"] for r in decided["adult-social-care"]["reasons"]] == ["no_consent"]
    assert [r["code"] for r in decided["libraries"]["reasons"]] == ["no_agreement"]
    one = httpx.post(
        f"{hub.url}/v1/policy/explain", json={"event": MOVE, "recipient": "waste"}, headers=ig
    ).json()
    assert [r["recipient"] for r in one["recipients"]] == ["waste"]
    no_source = httpx.post(f"{hub.url}/v1/policy/explain", json={"event": stranger}, headers=ig)
    assert no_source.status_code == 422 and no_source.json()["error"]["code"] == "explain_invalid"
    assert (
        httpx.post(
            f"{hub.url}/v1/policy/explain", json={"event": MOVE}, headers=hub.key("waste")
        ).status_code
        == 403
    )

    # the CLI gives the same answer; nothing was sent by explaining
    event_file = tmp_path / "move.json"
    event_file.write_text(json.dumps(MOVE))
    cli = run_hub(
        "agreements", "explain", str(event_file), "--recipient", "parking", "--json", env=hub.env
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["recipients"][0]["fields"] == decided["parking"]["fields"]
    inbox = httpx.get(f"{hub.url}/v1/inbox", headers=hub.key("parking")).json()
    assert inbox["items"] == []
