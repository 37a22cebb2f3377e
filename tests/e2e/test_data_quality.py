"""Data quality as IG and operators see it: rejected events listed and replayed, counters by rule."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx

from hub.broker.producer import make_producer
from hub.events.envelope import Envelope, Event
from hub.settings import HubSettings
from runtime.wiring import wire
from tests.e2e.conftest import RunningHub, run_hub
from tests.people import post_links
from tests.waiting import wait_for, wait_for_items


def publish_straight_to_kafka(hub: RunningHub, event: Event, as_system: str | None = None) -> None:
    """A source system with its own Kafka producer (not the HTTP API)."""
    running = json.loads((Path(hub.env["HUB_DATA_DIR"]) / "running.json").read_text())
    settings = HubSettings(effective_date_past_days=36_500)
    w = wire(settings)

    async def go() -> None:
        producer = make_producer(settings, running["bootstrap"])
        await producer.start()
        try:  # on its own topic, sources.<system id>, unsigned: the hub's key is not its to have
            record = w.codec.encode_event(event)
            await producer.send_and_wait(
                w.names.sources(as_system or event.envelope.source),
                record.value,
                key=record.key,
                headers=record.headers,
            )
        finally:
            await producer.stop()

    asyncio.run(go())


def rejected(hub: RunningHub, count: int, timeout: float = 30) -> list[dict]:
    def listed() -> list[dict]:
        done = run_hub("events", "rejected", "--json", env=hub.env)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    return wait_for_items(listed, count, "rejected events", timeout, every=0.3)


def test_a_rejected_kafka_event_is_listed_then_replayed_once_fixed(
    running_hub: RunningHub, tmp_path: Path
) -> None:
    hub = running_hub
    post_links(hub.url, "P-100871")
    bad = Event(
        envelope=Envelope(
            id="reg-2026-0042",
            source="registrar",
            type="death.notified",
            subject="P-100871",
            time=datetime(2026, 11, 20, tzinfo=UTC),
        ),
        data={"date_of_death": date(2062, 11, 18), "verified_by": "registrar", "informant": None},
    )
    publish_straight_to_kafka(hub, bad)
    (row,) = rejected(hub, 1)
    assert row["event_id"] == "reg-2026-0042" and row["rules"] == ["not_in_future"]
    assert row["status"] == "rejected"

    # replaying it unchanged is refused: it would be rejected again
    again = run_hub("events", "replay", str(row["seq"]), env=hub.env)
    assert again.returncode != 0
    assert "date of death is in the future" in again.stderr

    fixed = tmp_path / "fixed.json"
    fixed.write_text(
        json.dumps(
            {
                "type": "death.notified",
                "subject": "P-100871",
                "data": {"date_of_death": "2026-11-18", "verified_by": "registrar"},
            }
        )
    )
    replayed = run_hub("events", "replay", str(row["seq"]), "--fixed", str(fixed), env=hub.env)
    assert replayed.returncode == 0, replayed.stderr
    assert "re-published as event reg-2026-0042" in replayed.stdout

    items = wait_for(
        lambda: httpx.get(f"{hub.url}/v1/inbox", headers=hub.key("electoral")).json()["items"],
        "the replayed event in electoral's inbox",
    )
    assert items[0]["event_id"] == "reg-2026-0042"
    assert items[0]["data"]["date_of_death"] == "2026-11-18"
    (after,) = rejected(hub, 1)
    assert after["status"] == "replayed" and after["replayed_as"] == "reg-2026-0042"
    twice = run_hub("events", "replay", str(row["seq"]), "--fixed", str(fixed), env=hub.env)
    assert twice.returncode != 0 and "already replayed" in twice.stderr


def test_a_source_claiming_another_is_rejected_and_cannot_be_replayed(
    running_hub: RunningHub, tmp_path: Path
) -> None:
    hub = running_hub
    claimed = Event(
        envelope=Envelope(
            id="ct-claims-death",
            source="registrar",
            type="death.notified",
            subject="P-100871",
            time=datetime(2026, 11, 20, tzinfo=UTC),
        ),
        data={"date_of_death": date(2026, 11, 18), "verified_by": "registrar"},
    )
    publish_straight_to_kafka(hub, claimed, as_system="council-tax")
    (row,) = rejected(hub, 1)
    assert row["rules"] == ["source_mismatch"] and row["source"] == "council-tax"
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({"type": "death.notified", "subject": "P-100871", "data": {}}))
    for extra in ([], ["--fixed", str(fixed)]):
        refused = run_hub("events", "replay", str(row["seq"]), *extra, env=hub.env)
        assert refused.returncode != 0 and "cannot be replayed" in refused.stderr


def test_quality_counters_by_source_and_rule_for_ig(running_hub: RunningHub) -> None:
    hub = running_hub
    post = f"{hub.url}/v1/events"
    good = {
        "type": "death.notified",
        "subject": "P-2",
        "data": {"date_of_death": "2026-11-01", "verified_by": "hospital"},
    }
    assert httpx.post(post, json=good, headers=hub.key("registrar")).status_code == 202
    future = {**good, "data": {"date_of_death": "2099-01-01", "verified_by": "hospital"}}
    assert httpx.post(post, json=future, headers=hub.key("registrar")).status_code == 422
    bad_postcode = {
        "type": "address.changed",
        "subject": "P-3",
        "data": {
            "previous_address": {"uprn": "1", "lines": ["a"], "postcode": "nope"},
            "new_address": {"uprn": "x", "lines": ["b"], "postcode": "EX1 1AA"},
            "effective_date": "2026-11-20",
        },
    }
    assert httpx.post(post, json=bad_postcode, headers=hub.key("council-tax")).status_code == 422

    assert httpx.get(f"{hub.url}/v1/quality", headers=hub.key("waste")).status_code == 403
    deadline = time.monotonic() + 30
    while True:
        report = httpx.get(f"{hub.url}/v1/quality", headers=hub.key("information-governance"))
        assert report.status_code == 200
        counts = {
            (r["source"], r["event_type"], r["outcome"], r["rule"]): r["count"]
            for r in report.json()["rows"]
        }
        if ("registrar", "death.notified", "accepted", "") in counts:
            break
        assert time.monotonic() < deadline, counts
        time.sleep(0.2)
    assert counts[("registrar", "death.notified", "rejected", "not_in_future")] == 1
    assert counts[("council-tax", "address.changed", "rejected", "value_error")] == 1
    assert counts[("council-tax", "address.changed", "rejected", "string_pattern_mismatch")] == 1
    assert counts[("registrar", "death.notified", "accepted", "")] == 1

    cli = run_hub("events", "quality", "--source", "council-tax", "--json", env=hub.env)
    assert cli.returncode == 0
    assert {json.loads(line)["rule"] for line in cli.stdout.splitlines()} == {
        "value_error",
        "string_pattern_mismatch",
    }
    for command in ("quality", "rejected"):  # a source never known: refused, not "none"
        typo = run_hub("events", command, "--source", "council-tx", "--json", env=hub.env)
        assert typo.returncode == 2 and typo.stdout == "", command
        said = " ".join(typo.stderr.split())
        assert "source: 'council-tx' is not a source system in the configuration" in said
