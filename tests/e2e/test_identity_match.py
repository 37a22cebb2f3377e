"""Identity resolution through the stack, as a council runs it: extracts loaded from files and
the API, a model trained from them (`hub match train`), then `hub up`. An unlinked resident's
move reaches the services that hold them under their own ids; the uncertain pair waits for
review; accepting it releases the event to that service too."""

from __future__ import annotations

import csv
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from hub.identity.generator import generate
from hub.identity.normalise import PersonFields
from tests.e2e.conftest import RunningHub, run_hub, start_hub
from tests.waiting import wait_for

RESIDENT = PersonFields(
    local_id="P-9000001",
    given_names="Margaret",
    family_name="Thompson",
    date_of_birth=date(1958, 7, 14),
    uprn="100023336956",
    address="Flat 2, 14 Mill Lane",
    postcode="EX1 2AB",
    email="mthompson@example.org",
)
WASTE = PersonFields(  # the same person, as Waste holds her
    local_id="W-5501",
    given_names="Margaret",
    family_name="Thompson",
    date_of_birth=date(1958, 7, 14),
    uprn="100023336956",
    postcode="EX1 2AB",
)
ELECTORAL = PersonFields(  # a nickname, and no email
    local_id="E-77",
    given_names="Peggy",
    family_name="Thompson",
    date_of_birth=date(1958, 7, 14),
    uprn="100023336956",
    postcode="EX1 2AB",
)
PARKING = PersonFields(  # an initial, a double-barrelled surname, no UPRN: a person decides
    local_id="PK-3",
    given_names="M",
    family_name="Thompson-Hale",
    date_of_birth=date(1958, 7, 14),
    postcode="EX1 2AB",
)


def write_csv(path: Path, people: list[PersonFields]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(RESIDENT)))
        writer.writeheader()
        for p in people:
            writer.writerow({k: "" if v is None else str(v) for k, v in asdict(p).items()})
    return path


def api_record(p: PersonFields) -> dict[str, Any]:
    return {k: str(v) for k, v in asdict(p).items() if v is not None}


def inbox(hub: RunningHub, system: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{hub.url}/v1/inbox", headers=hub.key(system), timeout=10)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def load_and_train(hub_env: dict[str, str], tmp_path: Path) -> None:
    """Extracts from files (`hub match load`) and the council's model (`hub match train`)."""
    pop = generate(1500, seed=11)
    reference = write_csv(tmp_path / "customer-index.csv", [*pop.reference, RESIDENT])
    waste = write_csv(tmp_path / "waste.csv", [*pop.service, WASTE])
    for system, file in (("customer-index", reference), ("waste", waste)):
        done = run_hub("match", "load", system, str(file), env=hub_env)
        assert done.returncode == 0, done.stderr
        assert "record(s) loaded" in done.stdout
    trained = run_hub("match", "train", "waste", "--max-pairs", "200000", env=hub_env, timeout=300)
    assert trained.returncode == 0, trained.stderr
    shown = run_hub("match", "model", env=hub_env)
    assert shown.returncode == 0 and "model " in shown.stdout and "date_of_birth" in shown.stdout


def send_extracts_and_move(hub: RunningHub) -> None:
    """Electoral and Parking send their extracts over the API; Council Tax sends the move."""
    for system, person in (("electoral", ELECTORAL), ("parking", PARKING)):
        r = httpx.put(
            f"{hub.url}/v1/extracts/{system}",
            json={"records": [api_record(person)]},
            headers=hub.key(system),
            timeout=10,
        )
        assert r.status_code == 200 and r.json()["upserted"] == 1, r.text
    refused = httpx.put(
        f"{hub.url}/v1/extracts/waste",
        json={"records": [api_record(PARKING)]},
        headers=hub.key("parking"),
        timeout=10,
    )
    assert refused.status_code == 403  # a system sends its own extract only

    move = {
        "id": "move-9000001",
        "type": "address.changed",
        "subject": RESIDENT.local_id,
        "data": {
            "previous_address": {
                "uprn": "100023336956",
                "lines": ["Flat 2", "14 Mill Lane"],
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
    r = httpx.post(f"{hub.url}/v1/events", json=move, headers=hub.key("council-tax"), timeout=10)
    assert r.status_code == 202, r.text


def test_an_unlinked_residents_move_reaches_services_by_matching(
    hub_env: dict[str, str], tmp_path: Path
) -> None:
    load_and_train(hub_env, tmp_path)
    hub = start_hub(hub_env)
    try:
        send_extracts_and_move(hub)

        # linked automatically: delivered under each service's own id
        got = wait_for(lambda: inbox(hub, "waste"), "waste's delivery", 90)
        assert [(m["event_id"], m["local_id"]) for m in got] == [("move-9000001", "W-5501")]
        got = wait_for(lambda: inbox(hub, "electoral"), "electoral's delivery", 90)
        assert [(m["event_id"], m["local_id"]) for m in got] == [("move-9000001", "E-77")]

        # the uncertain pair waits for review, side by side, and parking has nothing yet
        ig = hub.key("information-governance")
        pairs = wait_for(
            lambda: httpx.get(f"{hub.url}/v1/match/candidates", headers=ig, timeout=10).json(),
            "a candidate pair",
            90,
        )
        assert [(p["system"], p["local_id"]) for p in pairs] == [("parking", "PK-3")]
        pair = httpx.get(f"{hub.url}/v1/match/candidates/{pairs[0]['id']}", headers=ig).json()
        verdicts = {f["field"]: (f["verdict"], f["left"], f["right"]) for f in pair["fields"]}
        assert verdicts["given_name"] == ("disagree", "Margaret", "M")
        assert verdicts["family_name"] == ("partial", "Thompson", "Thompson-Hale")
        assert verdicts["date_of_birth"] == ("agree", "1958-07-14", "1958-07-14")
        assert inbox(hub, "parking") == []

        decided = httpx.post(
            f"{hub.url}/v1/match/candidates/{pairs[0]['id']}/decision",
            json={"decision": "accept", "by": "A. Reviewer"},
            headers=ig,
            timeout=30,
        )
        assert decided.status_code == 200, decided.text
        assert decided.json() == {"id": pairs[0]["id"], "status": "accepted", "released": True}
        got = wait_for(lambda: inbox(hub, "parking"), "parking's delivery after review", 90)
        assert [(m["event_id"], m["local_id"]) for m in got] == [("move-9000001", "PK-3")]

        again = httpx.post(
            f"{hub.url}/v1/match/candidates/{pairs[0]['id']}/decision",
            json={"decision": "reject", "by": "Someone Else"},
            headers=ig,
        )
        assert again.status_code == 409

        # every link has its provenance, and can be undone (with what went out under it)
        links = run_hub("match", "links", RESIDENT.local_id, env=hub_env)
        assert links.returncode == 0, links.stderr
        assert (
            "auto" in links.stdout and "clerical" in links.stdout and "A. Reviewer" in links.stdout
        )
        undone = run_hub(
            "match", "unlink", RESIDENT.local_id, "parking", "--by", "IG officer", env=hub_env
        )
        assert undone.returncode == 0, undone.stderr
        assert "unlinked parking record PK-3" in undone.stdout
        wait_for(
            lambda: httpx.get(
                f"{hub.url}/v1/audit/transfers",
                params={"recipient": "waste", "outcome": "delivered"},
                headers=ig,
                timeout=10,
            ).json()["rows"],
            "waste's delivery in the audit trail",
            90,
        )
        undone = run_hub("match", "unlink", RESIDENT.local_id, "waste", "--by", "IG", env=hub_env)
        assert undone.returncode == 0, undone.stderr
        assert "went out under this link: 1" in undone.stdout and "move-9000001" in undone.stdout
    finally:
        hub.proc.send_signal(2)
        try:
            hub.proc.wait(30)
        except Exception:
            hub.proc.kill()
