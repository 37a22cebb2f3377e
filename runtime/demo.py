"""`make demo` / `hub demo`: start the embedded stack, play the scripted scenario, print the audit."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from hub.audit.store import AuditFilter, AuditRow, AuditStore
from hub.db.engine import make_engine
from hub.errors import StackError
from hub.review.store import Review, ReviewStore
from hub.settings import HubSettings
from hub.subjects.store import SubjectStore
from hub.timeutil import uk_date, utcnow
from runtime.stack import Stack
from runtime.wiring import wire


def _days_ago(days: int) -> str:
    return (uk_date(utcnow()) - timedelta(days=days)).isoformat()


def demo_key(system_id: str) -> str:
    """The demo API keys shipped (hashed) in config/systems.yaml."""
    return f"demo-{system_id}-key"


@dataclass(frozen=True)
class Step:
    title: str
    source: str
    body: dict[str, Any]


# The council's customer index has matched each service's record to one hub person. Electoral
# Services has no record of P-100234 yet (they have just moved in): under DSA-002 it is told the
# new address to match (and invite them to register), without any record id.
LINKS = {
    "P-100234": {
        "council-tax": "CT-4471902",
        "waste": "WST-000417",
        "libraries": "LIB-88231",
        "parking": "PRK-20931",
        "adult-social-care": "ASC-7713",
    },
    "P-100871": {
        "waste": "WST-003318",
        "libraries": "LIB-10092",
        "parking": "PRK-11873",
        "adult-social-care": "ASC-2201",
        "electoral": "EL-559210",
    },
}


def link_step() -> list[dict[str, Any]]:
    return [
        {
            "id": f"link-{system}-{local_id}",  # event ids are audited: never a person's id
            "type": "person.linked",
            "subject": person,
            "data": {"system": system, "local_id": local_id},
        }
        for person, records in LINKS.items()
        for system, local_id in records.items()
    ]


SCENARIO = (
    Step(
        "1. A resident moves house: Council Tax publishes a change of address",
        "council-tax",
        {
            "type": "address.changed",
            "subject": "P-100234",
            "data": {
                "previous_address": {
                    "uprn": "100023336956",
                    "lines": ["Flat 2", "14 Mill Lane", "Exampleton"],
                    "postcode": "ex1 2ab",
                },
                "new_address": {
                    "uprn": "100023412345",
                    "lines": ["7 Orchard Close", "Exampleton"],
                    "postcode": "EX4 7QT",
                },
                "effective_date": _days_ago(4),
            },
        },
    ),
    Step(
        "2. A death is notified: the Registrar publishes a notification of death",
        "registrar",
        {
            "type": "death.notified",
            "subject": "P-100871",
            "data": {"date_of_death": _days_ago(6), "verified_by": "registrar"},
        },
    ),
)


UNKNOWN_PERSON = {
    "type": "death.notified",
    "subject": "P-999001",
    "data": {"date_of_death": _days_ago(3), "verified_by": "hospital"},
}


def post_event(client: httpx.Client, source: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(
        "/v1/events", json=body, headers={"Authorization": f"Bearer {demo_key(source)}"}
    )


def wait_for_audit(
    stack: Stack, store: AuditStore, event_ids: list[str], expected: int, timeout: float
) -> list[AuditRow]:
    deadline = time.monotonic() + timeout
    rows: list[AuditRow] = []
    while time.monotonic() < deadline:
        stack.check_alive()
        rows = store.query(AuditFilter(event_ids=tuple(event_ids), limit=10_000))
        if len(rows) >= expected:
            return rows
        time.sleep(0.1)
    raise StackError(f"only {len(rows)} of {expected} audit rows arrived within {timeout:.0f}s")


def wait_for_links(stack: Stack, store: SubjectStore, timeout: float) -> None:
    """The links are recorded before the scenario starts (events on other topics may otherwise
    be routed before them, and find nobody linked)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        states = store.load(list(LINKS))
        if all(
            person in states and dict(states[person].links) == records
            for person, records in LINKS.items()
        ):
            return
        time.sleep(0.1)
    raise StackError(f"the customer index's links were not recorded within {timeout:.0f}s")


def wait_for_review(stack: Stack, store: ReviewStore, timeout: float) -> list[Review]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        items = store.find()
        if items:
            return items
        time.sleep(0.1)
    raise StackError(f"the unknown person's event did not reach the review queue in {timeout:.0f}s")


def audit_table(rows: list[AuditRow], names: dict[str, str], types: dict[str, str]) -> Table:
    order = {event_id: i for i, event_id in enumerate(types)}
    table = Table(title="What happened, read back from the audit store", show_lines=True)
    for column in ("service", "event", "outcome", "fields shared", "agreement", "reason"):
        table.add_column(column, overflow="fold")
    for row in sorted(rows, key=lambda r: (order.get(r.event_id, len(order)), r.recipient)):
        outcome = (
            "[green]delivered[/green]" if row.outcome == "delivered" else "[red]withheld[/red]"
        )
        table.add_row(
            names.get(row.recipient, row.recipient),
            types.get(row.event_id, row.event_type),
            outcome,
            ", ".join(row.fields) or "-",
            f"{row.agreement_id} ({row.agreement_version})"
            if row.agreement_version
            else (row.agreement_id or "-"),
            "; ".join(row.reasons) or "-",
        )
    return table


def run_demo(settings: HubSettings, console: Console) -> None:
    w = wire(settings)
    names = {s.id: s.name for s in w.config.systems}
    with tempfile.TemporaryDirectory(prefix="hub-demo-") as tmp:
        settings = settings.model_copy(update={"data_dir": Path(tmp), "api_port": 0})
        console.print(
            "[bold]Starting the embedded stack[/bold] (broker, faust worker, HTTP API, SQLite)..."
        )
        started = time.monotonic()
        with Stack(settings) as stack:
            console.print(f"  ready in {time.monotonic() - started:.1f}s, API at {stack.api_url}\n")
            event_ids: list[str] = []
            types: dict[str, str] = {}
            expected = 0
            with httpx.Client(base_url=stack.api_url, timeout=10) as client:
                for body in link_step():
                    response = post_event(client, "customer-index", body)
                    if response.status_code != 202:
                        raise StackError(f"linking: HTTP {response.status_code} {response.text}")
                engine = make_engine(stack.settings.effective_database_url)
                wait_for_links(stack, SubjectStore(engine), timeout=60)
                console.print(
                    f"0. The customer index links {len(LINKS)} residents to the records each "
                    f"service holds ({len(link_step())} person.linked events)\n"
                )
                for step in SCENARIO:
                    response = post_event(client, step.source, step.body)
                    if response.status_code != 202:
                        raise StackError(
                            f"{step.title}: HTTP {response.status_code} {response.text}"
                        )
                    event_id = response.json()["id"]
                    event_ids.append(event_id)
                    types[event_id] = step.body["type"]
                    expected += len(w.config.subscribers(step.body["type"]))
                    console.print(f"{step.title}\n  -> 202 accepted, event id {event_id}")
                bad = post_event(
                    client,
                    "council-tax",
                    {
                        "type": "address.changed",
                        "subject": "P-1",
                        "data": {"effective_date": "soon"},
                    },
                )
                problems = [p["field"] for p in bad.json()["error"]["problems"]]
                console.print(
                    f"3. A malformed event is refused at the door -> HTTP {bad.status_code}, "
                    f"problems in: {', '.join(problems)}"
                )
                forged = post_event(
                    client, "council-tax", {**SCENARIO[1].body, "subject": "P-100234"}
                )
                if forged.status_code != 403:
                    raise StackError(f"a forged death: HTTP {forged.status_code} {forged.text}")
                console.print(
                    "   Council Tax tries to notify a death: it has no death authority -> HTTP "
                    f"{forged.status_code} {forged.json()['error']['code']}, nothing recorded"
                )
                stranger = post_event(client, "registrar", UNKNOWN_PERSON)
                if stranger.status_code != 202:
                    raise StackError(f"step 4: HTTP {stranger.status_code} {stranger.text}")
                console.print(
                    "4. A death is notified for a person no service's record is linked to: it is "
                    "accepted and waits in the review queue (`hub deliveries held`), not dropped\n"
                )
                rows = wait_for_audit(stack, AuditStore(engine), event_ids, expected, timeout=60)
                console.print(audit_table(rows, names, types))
                withheld = [r for r in rows if r.outcome == "withheld"]
                console.print(
                    f"\n{len(rows) - len(withheld)} delivered, {len(withheld)} withheld: "
                    "every subscribed service has exactly one audited decision per event."
                )
                inbox = client.get(
                    "/v1/inbox", headers={"Authorization": f"Bearer {demo_key('parking')}"}
                )
                console.print(
                    "\n[bold]Parking Permits reads its inbox[/bold] (GET /v1/inbox): it sees only"
                )
                for item in inbox.json()["items"]:
                    console.print(
                        f"  {item['type']} for its record {item['local_id']}: {item['data']}"
                    )
                waiting = wait_for_review(stack, ReviewStore(engine), timeout=30)
                console.print(
                    f"\n[bold]Review queue[/bold]: {len(waiting)} event(s) waiting for a person to "
                    "be linked: " + ", ".join(f"{r.event_type} from {r.source}" for r in waiting)
                )
                engine.dispose()
        console.print("\nStack stopped; nothing left running.")
