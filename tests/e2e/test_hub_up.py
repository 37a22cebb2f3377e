"""`hub up` as a subprocess, driven over HTTP as a source system and recipient systems would."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRETS_ENV
from tests.e2e.conftest import RunningHub, hub_cmd, run_hub, stack_ready, wait_children_gone
from tests.people import post_links
from tests.waiting import wait_for_items

MOVE = {
    "type": "address.changed",
    "subject": "P-100234",
    "data": {
        "previous_address": {
            "uprn": "100023336956",
            "lines": ["2 Mill Lane"],
            "postcode": "ex1 2ab",
        },
        "new_address": {
            "uprn": "100023412345",
            "lines": ["7 Orchard Close"],
            "postcode": "EX4 7QT",
        },
        "effective_date": "2026-11-20",
    },
}


def wait_inbox(hub: RunningHub, recipient: str, count: int, timeout: float = 30) -> list[dict]:
    return wait_for_items(
        lambda: httpx.get(f"{hub.url}/v1/inbox", headers=hub.key(recipient)).json()["items"],
        count,
        f"{recipient}'s inbox",
        timeout,
    )


def test_source_publishes_recipients_read_their_own_inbox_and_ig_lists_the_audit(
    running_hub: RunningHub,
) -> None:
    hub = running_hub
    post_links(hub.url, "P-100234")
    accepted = httpx.post(f"{hub.url}/v1/events", json=MOVE, headers=hub.key("council-tax"))
    assert accepted.status_code == 202, accepted.text
    event_id = accepted.json()["id"]

    waste = wait_inbox(hub, "waste", 1)
    assert waste[0]["event_id"] == event_id
    assert waste[0]["data"] == {
        "effective_date": "2026-11-20",
        "new_address": {
            "lines": ["7 Orchard Close"],
            "postcode": "EX4 7QT",
            "uprn": "100023412345",
        },
    }
    assert "previous_address" not in waste[0]["data"]
    assert waste[0]["agreement_id"] == "DSA-001"
    parking = wait_inbox(hub, "parking", 1)
    assert parking[0]["data"] == {
        "effective_date": "2026-11-20",
        "new_address": {"postcode": "EX4 7QT", "uprn": "100023412345"},
    }
    # libraries has no agreement for address changes: its inbox stays empty
    assert httpx.get(f"{hub.url}/v1/inbox", headers=hub.key("libraries")).json()["items"] == []

    # acknowledging removes from the recipient's own inbox only
    ack = httpx.post(
        f"{hub.url}/v1/inbox/ack", json={"up_to": waste[0]["cursor"]}, headers=hub.key("waste")
    )
    assert ack.json() == {"acknowledged": 1}
    assert httpx.get(f"{hub.url}/v1/inbox", headers=hub.key("waste")).json()["items"] == []
    assert len(httpx.get(f"{hub.url}/v1/inbox", headers=hub.key("parking")).json()["items"]) == 1

    # IG reads the audit trail with the CLI, from the same database
    listed = run_hub("audit", "list", "--event-id", event_id, "--json", env=hub.env)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    outcomes = {r["recipient"]: (r["outcome"], r["reason_codes"]) for r in rows}
    assert outcomes == {
        "waste": ("delivered", []),
        "parking": ("delivered", []),
        "electoral": ("delivered", []),
        "libraries": ("withheld", ["no_agreement"]),
        "adult-social-care": ("withheld", ["no_consent"]),
    }
    assert "EX4 7QT" not in listed.stdout
    # the person is only their pseudonymous key (local_id is the recipient's record id, a
    # reference; the tests' record ids embed the hub id, see tests/people.py)
    without_record_ids = [{k: v for k, v in r.items() if k != "local_id"} for r in rows]
    assert "P-100234" not in json.dumps(without_record_ids)

    table = run_hub("audit", "list", "--recipient", "libraries", env=hub.env)
    assert table.returncode == 0 and "no_agreement" in table.stdout
    # an event id no source ever used, and a recipient the hub never knew: refused, not "0 rows"
    no_event = run_hub("audit", "list", "--event-id", event_id + "x", env=hub.env)
    assert no_event.returncode == 2 and "0 rows" not in no_event.stdout
    assert f"no record of an event '{event_id}x'" in " ".join(no_event.stderr.split())
    known = run_hub("audit", "list", "--event-id", event_id, "--outcome", "failed", env=hub.env)
    assert known.returncode == 0 and "0 rows" in known.stdout  # known; none failed
    typo = run_hub("audit", "list", "--recipient", "librarys", env=hub.env)
    assert typo.returncode == 2 and "0 rows" not in typo.stdout
    said = " ".join(typo.stderr.split())
    assert "recipient: 'librarys' is not a receiving system in the configuration" in said
    assert "Traceback" not in typo.stderr


def test_ingest_refuses_bad_keys_wrong_roles_impersonation_and_bad_bodies(
    running_hub: RunningHub,
) -> None:
    hub = running_hub
    post = f"{hub.url}/v1/events"
    missing = httpx.post(post, json=MOVE)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthenticated"
    wrong = httpx.post(post, json=MOVE, headers={"Authorization": "Bearer not-a-key"})
    assert wrong.status_code == 401
    recipient = httpx.post(post, json=MOVE, headers=hub.key("waste"))
    assert recipient.status_code == 403 and recipient.json()["error"]["code"] == "forbidden"
    impersonate = httpx.post(
        post, json={**MOVE, "source": "registrar"}, headers=hub.key("council-tax")
    )
    assert impersonate.status_code == 403
    assert "only as itself" in impersonate.json()["error"]["message"]

    bad = dict(
        MOVE,
        data={**MOVE["data"], "new_address": {"uprn": "12AB", "lines": [], "postcode": "nope"}},
    )
    invalid = httpx.post(post, json=bad, headers=hub.key("council-tax"))
    assert invalid.status_code == 422
    fields = {p["field"] for p in invalid.json()["error"]["problems"]}
    assert {
        "data.new_address.uprn",
        "data.new_address.lines",
        "data.new_address.postcode",
    } <= fields
    not_json = httpx.post(post, content=b"{oops", headers=hub.key("council-tax"))
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"
    unknown = httpx.post(post, json={**MOVE, "type": "pet.adopted"}, headers=hub.key("council-tax"))
    assert unknown.status_code == 422
    assert unknown.json()["error"]["problems"][0]["field"] == "type"

    # nothing was published on any error: the only audit rows come from the one good event below
    post_links(hub.url, "P-100234")
    good = httpx.post(post, json=MOVE, headers=hub.key("council-tax"))
    assert good.status_code == 202
    wait_inbox(hub, "waste", 1)
    time.sleep(1.0)
    listed = run_hub("audit", "list", "--json", env=hub.env)
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    # the links, audited as links (identity.link), and the one good event's transfers
    assert {r["event_id"] for r in rows if r["event_type"] != "identity.link"} == {
        good.json()["id"]
    }
    assert {r["outcome"] for r in rows if r["event_type"] == "identity.link"} == {"linked"}

    # a recipient cannot read another's inbox: its key only ever shows its own
    other = httpx.get(f"{hub.url}/v1/inbox", headers=hub.key("parking")).json()
    assert other["recipient"] == "parking"
    assert {i["agreement_id"] for i in other["items"]} == {"DSA-003"}
    assert httpx.get(f"{hub.url}/v1/inbox", headers=hub.key("council-tax")).status_code == 403


def test_ctrl_c_stops_everything_cleanly_with_exit_0(running_hub: RunningHub) -> None:
    """Ctrl-C in a terminal sends SIGINT to the whole foreground process group."""
    import os

    hub = running_hub
    assert len(hub.children) >= 3  # broker, worker, API
    started = time.monotonic()
    os.killpg(hub.proc.pid, signal.SIGINT)
    out, err = hub.proc.communicate(timeout=60)
    assert time.monotonic() - started < 15, "shutdown took too long"
    assert hub.proc.returncode == 0, err
    assert "Stopped." in out
    wait_children_gone(hub.children)


def test_hub_up_against_an_existing_kafka_and_postgresql(
    hub_env: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    """HUB_KAFKA_BOOTSTRAP and HUB_DATABASE_URL switch the same code to external services."""
    from hub.broker.embedded import EmbeddedBroker
    from tests.integration.conftest import reset_schema

    reset_schema(postgres_url)
    with EmbeddedBroker(log_file=tmp_path / "external-kafka.log") as kafka:
        env = {
            **hub_env,
            **TEST_SECRETS_ENV,  # against an external Kafka, the hub needs its own secrets
            "HUB_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "HUB_DATABASE_URL": postgres_url,
        }
        proc = subprocess.Popen(
            hub_cmd("up"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        hub = RunningHub(proc, f"http://127.0.0.1:{env['HUB_API_PORT']}", env, [])
        try:
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None, proc.communicate()
                try:
                    if stack_ready(hub.url):
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline
                time.sleep(0.2)
            post_links(hub.url, "P-100234")
            accepted = httpx.post(f"{hub.url}/v1/events", json=MOVE, headers=hub.key("council-tax"))
            assert accepted.status_code == 202
            assert wait_inbox(hub, "electoral", 1)[0]["event_id"] == accepted.json()["id"]
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        assert f"external Kafka at {kafka.bootstrap}" in " ".join(out.split())
        assert "postgresql" in out
        listed = run_hub("audit", "list", "--json", env=env)
        assert {
            json.loads(line)["recipient"] for line in listed.stdout.splitlines() if line.strip()
        } == {
            "waste",
            "parking",
            "electoral",
            "libraries",
            "adult-social-care",
        }


def test_a_recipient_can_long_poll_its_inbox(running_hub: RunningHub) -> None:
    """`?wait=` holds the request until a delivery arrives (or the wait is over)."""
    import threading

    hub = running_hub
    post_links(hub.url, "P-100234")
    empty_started = time.monotonic()
    empty = httpx.get(f"{hub.url}/v1/inbox?wait=1", headers=hub.key("waste"), timeout=10).json()
    assert empty["items"] == [] and time.monotonic() - empty_started >= 1.0

    def publish_later() -> None:
        time.sleep(1.0)
        httpx.post(f"{hub.url}/v1/events", json=MOVE, headers=hub.key("council-tax"))

    threading.Thread(target=publish_later).start()
    started = time.monotonic()
    page = httpx.get(f"{hub.url}/v1/inbox?wait=20", headers=hub.key("waste"), timeout=30).json()
    waited = time.monotonic() - started
    assert [i["type"] for i in page["items"]] == ["address.changed"]
    assert 1.0 <= waited < 15, waited  # answered when the delivery arrived, not at the deadline
    too_long = httpx.get(f"{hub.url}/v1/inbox?wait=31", headers=hub.key("waste"))
    assert (
        too_long.status_code == 422
        and too_long.json()["error"]["problems"][0]["field"] == "query.wait"
    )
