"""Who may say what, as a source system meets it over HTTP (issue 12): a fact without authority
is refused at once (403, the rule named), event ids are per source (a repeat is a duplicate, or
a 409 conflict), and `hub agreements explain` shows the authority verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from hub.audit.store import AuditFilter, AuditRow, AuditStore
from hub.db.engine import make_engine
from tests.e2e.conftest import RunningHub, run_hub
from tests.e2e.test_policy import MOVE
from tests.people import post_links
from tests.waiting import wait_for_items

ASC_PURPOSE = "Keep care and support records current"  # DSA-004
PERSON = "P-100234"
DEATH: dict[str, Any] = {
    "type": "death.notified",
    "subject": PERSON,
    "data": {"date_of_death": "2026-11-18", "verified_by": "registrar"},
}


def audit_rows(hub: RunningHub, event_id: str, expected: int) -> list[AuditRow]:
    """The audit trail of one event id, read from the hub's database (polled, with a deadline)."""
    engine = make_engine(f"sqlite:///{Path(hub.env['HUB_DATA_DIR']) / 'hub.db'}")
    store = AuditStore(engine)
    try:
        return wait_for_items(
            lambda: store.query(AuditFilter(event_ids=(event_id,), limit=100)),
            expected,
            f"audit rows for {event_id}",
            60,
        )
    finally:
        engine.dispose()


def test_sources_may_say_only_what_they_have_authority_for_and_ids_are_per_source(
    running_hub: RunningHub, tmp_path: Path
) -> None:
    hub = running_hub
    post_links(hub.url, PERSON, ("waste", "parking", "adult-social-care"))
    with httpx.Client(base_url=hub.url, timeout=10) as client:

        def post(source: str, body: dict[str, Any]) -> httpx.Response:
            return client.post("/v1/events", json=body, headers=hub.key(source))

        # Council Tax may not notify a death: refused at once, nothing recorded
        forged = post("council-tax", {**DEATH, "id": "ct-death"})
        assert forged.status_code == 403, forged.text
        assert forged.json()["error"]["code"] == "no_death_authority"
        assert "council-tax may not notify a death" in forged.json()["error"]["message"]
        # the Registrar may not record consent for DSA-004's purpose
        consent = {
            "type": "consent.changed",
            "subject": PERSON,
            "data": {"action": "granted", "purpose": ASC_PURPOSE, "effective_at": "2026-11-01T09:00:00Z"},
        }  # fmt: skip
        refused = post("registrar", consent)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == (
            "no_consent_authority"
        )
        # Council Tax may not link Waste's record (refused now, not 202 and later)
        link = {
            "type": "person.linked",
            "subject": PERSON,
            "data": {"system": "waste", "local_id": "W-1"},
        }
        not_own = post("council-tax", link)
        assert not_own.status_code == 403 and not_own.json()["error"]["code"] == (
            "link_not_own_record"
        )

        # a move with id X; the same again is a duplicate; other content under X is a conflict
        move = {key: value for key, value in MOVE.items() if key != "source"} | {"id": "X"}
        assert post("council-tax", move).status_code == 202
        again = post("council-tax", move)
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        changed = move | {"data": move["data"] | {"effective_date": "2026-11-21"}}
        conflict = post("council-tax", changed)
        assert conflict.status_code == 409, conflict.text
        assert conflict.json()["error"]["code"] == "event_id_conflict"
        assert "already sent event id 'X'" in conflict.json()["error"]["message"]

        moved = audit_rows(hub, "X", expected=5)
        # nobody was made deceased by Council Tax, nor given consent by the Registrar
        asc = [r for r in moved if r.recipient == "adult-social-care"]
        assert [r.reason_codes for r in asc] == [("no_consent",)]
        waste = client.get("/v1/inbox", headers=hub.key("waste")).json()["items"]
        assert [(i["event_id"], i["flags"]) for i in waste] == [("X", [])]

        # the Registrar's death with the same id X is its own event: accepted, told, audited
        death = post("registrar", {**DEATH, "id": "X"})
        assert death.status_code == 202, death.text
        rows = audit_rows(hub, "X", expected=10)
        assert sorted({r.source for r in rows}) == ["council-tax", "registrar"]
        told = {(r.source, r.recipient) for r in rows if r.outcome == "delivered"}
        assert ("registrar", "waste") in told and ("council-tax", "waste") in told

    listed = run_hub("audit", "list", "--event-id", "X", "--json", env=hub.env)
    assert len(listed.stdout.splitlines()) == 10  # the conflicting repeat made no transfer

    # hub agreements explain shows the verdict: Council Tax's death would be rejected, nobody told
    event_file = tmp_path / "death.json"
    event_file.write_text(json.dumps({**DEATH, "source": "council-tax"}))
    explained = run_hub(
        "agreements", "explain", str(event_file), "--all-recipients", "--json", env=hub.env
    )
    assert explained.returncode == 0, explained.stderr
    verdict = json.loads(explained.stdout)
    assert verdict["authority"]["allowed"] is False
    assert verdict["authority"]["code"] == "no_death_authority"
    assert verdict["recipients"] == []
    table = run_hub("agreements", "explain", str(event_file), "--all-recipients", env=hub.env)
    assert table.returncode == 0 and "REJECTED (no_death_authority)" in table.stdout
    event_file.write_text(json.dumps({**DEATH, "source": "registrar"}))
    allowed = run_hub(
        "agreements", "explain", str(event_file), "--all-recipients", "--json", env=hub.env
    )
    assert json.loads(allowed.stdout)["authority"]["allowed"] is True
