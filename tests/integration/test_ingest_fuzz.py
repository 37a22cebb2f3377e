"""`POST /v1/events` under generated input (hypothesis): never a 5xx, and the worker still
routes a real event afterwards. Through the real app, the real broker and a real worker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.audit.store import AuditRow
from hub.db.engine import make_engine
from hub.inbox.store import InboxStore
from hub.settings import HubSettings
from runtime.api import create_app
from runtime.wiring import Wiring
from tests.integration.conftest import WorkerProcess
from tests.people import link_bodies
from tests.waiting import wait_for

SOURCE = {"Authorization": "Bearer demo-council-tax-key"}
KEYS = [
    SOURCE,
    {"Authorization": "Bearer demo-registrar-key"},
    {"Authorization": "Bearer demo-customer-index-key"},
    {"Authorization": "Bearer demo-waste-key"},  # not a source: 403
    {},  # no key: 401
]
TYPES = [
    "address.changed",
    "death.notified",
    "name.changed",
    "contact.changed",
    "consent.changed",
    "person.linked",
    "correction",
    "retraction",
]
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202eevil",
    "\u2066x\u2069",
    "\r\n",
    "\ud7ff",
    "💥" * 30,
    "x" * 600,
    "9" * 5000,
    "0",
    "-1",
    "1e999",
    "NaN",
    "null",
    "{}",
    "[" * 40 + "]" * 40,
    "2026-02-30",
    "9999-12-31",
    "0001-01-01",
    "2026-03-14T09:30:00",
    "2026-03-14T09:30:00+14:00",
    "../../etc/passwd",
    "'; DROP TABLE audit_record; --",
]

texts = st.one_of(st.text(max_size=30), st.sampled_from(NASTY))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
dates = st.one_of(st.dates().map(lambda d: d.isoformat()), texts, json_values)
address = st.fixed_dictionaries(
    {
        "uprn": st.one_of(st.from_regex(r"[0-9]{1,12}", fullmatch=True), texts),
        "lines": st.one_of(st.lists(texts, max_size=6), json_values),
        "postcode": st.one_of(st.sampled_from(["EX4 7QT", "ex1 2ab", "SW1A1AA"]), texts),
    },
    optional={"extra": json_values},
)
name = st.fixed_dictionaries(
    {"given_names": texts, "family_name": texts}, optional={"title": texts}
)
data_by_type: dict[str, st.SearchStrategy[Any]] = {
    "address.changed": st.fixed_dictionaries(
        {"previous_address": address, "new_address": address, "effective_date": dates},
        optional={"move_type": st.one_of(st.sampled_from(["within_area", "into_area"]), texts)},
    ),
    "death.notified": st.fixed_dictionaries(
        {
            "date_of_death": dates,
            "verified_by": st.one_of(st.sampled_from(["registrar", "coroner"]), texts),
        },
        optional={"informant": st.fixed_dictionaries({"name": texts, "relationship": texts})},
    ),
    "name.changed": st.fixed_dictionaries(
        {
            "previous_name": name,
            "new_name": name,
            "effective_date": dates,
            "reason": st.one_of(st.sampled_from(["marriage", "deed_poll"]), texts),
        }
    ),
    "contact.changed": st.fixed_dictionaries(
        {"preferred_contact_method": st.one_of(st.sampled_from(["email", "phone"]), texts)},
        optional={
            "phone": st.one_of(st.sampled_from(["01632 960123", "+44 7700 900123"]), texts),
            "email": st.one_of(st.emails(), texts),
        },
    ),
    "consent.changed": st.fixed_dictionaries(
        {
            "action": st.one_of(st.sampled_from(["granted", "withdrawn", "objection"]), texts),
            "purpose": texts,
            "effective_at": st.one_of(
                st.sampled_from(["2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z"]), texts
            ),
        },
        optional={"recipient": st.one_of(st.sampled_from(["waste", "libraries"]), texts)},
    ),
    "person.linked": st.fixed_dictionaries(
        {"system": st.one_of(st.sampled_from(["waste", "council-tax"]), texts), "local_id": texts},
        optional={"nhs_number": st.one_of(st.sampled_from(["9434765919"]), texts)},
    ),
    "correction": st.fixed_dictionaries(
        {
            "original_event_id": texts,
            "original_event_type": st.sampled_from(TYPES),
            "reason": texts,
            "corrected_data": json_values,
        }
    ),
    "retraction": st.fixed_dictionaries(
        {"original_event_id": texts, "original_event_type": st.sampled_from(TYPES), "reason": texts}
    ),
}


@st.composite
def submissions(draw: st.DrawFn) -> dict[str, Any]:
    event_type = draw(st.one_of(st.sampled_from(TYPES), texts))
    data = draw(
        st.one_of(data_by_type[event_type], json_values)
        if event_type in data_by_type
        else json_values
    )
    body: dict[str, Any] = {"type": event_type, "subject": draw(texts), "data": data}
    for key, values in (
        ("id", st.one_of(st.from_regex(r"fz-[a-z0-9]{1,20}", fullmatch=True), texts)),
        ("time", st.one_of(dates, st.datetimes().map(lambda t: t.isoformat() + "Z"))),
        ("source", st.one_of(st.just("council-tax"), texts)),
        ("correlation_id", texts),
        ("unexpected", json_values),
    ):
        if draw(st.booleans()):
            body[key] = draw(values)
    return body


# Valid events with generated names, lines and ids: accepted, and routed by the worker.
words = st.text(
    alphabet=st.characters(categories=["L", "M", "N", "Zs", "Pd", "Po"]), min_size=1, max_size=40
).filter(str.strip)
new_address = st.fixed_dictionaries(
    {
        "uprn": st.from_regex(r"[0-9]{1,12}", fullmatch=True),
        "lines": st.lists(words, min_size=1, max_size=5),
        "postcode": st.sampled_from(["EX4 7QT", "ex1 2ab", "SW1A1AA"]),
    }
)
valid_moves = st.fixed_dictionaries(
    {
        "id": st.from_regex(r"fz-[A-Za-z0-9._:-]{1,40}", fullmatch=True),
        "type": st.just("address.changed"),
        "subject": st.one_of(st.sampled_from(["P-fuzz-1", "P-fuzz-2"]), words),
        "data": st.fixed_dictionaries(
            {
                "previous_address": new_address,
                "new_address": new_address,
                "effective_date": st.sampled_from(["2026-03-14", "2026-11-20"]),
            }
        ),
    }
)


def encode(body: Any, ascii_only: bool) -> bytes:
    return json.dumps(body, ensure_ascii=ascii_only).encode()


# Generated submissions (type, subject, data shaped like each type's, with odd values in
# every field), any JSON, any bytes; and valid events, which the worker routes meanwhile.
invalid_requests = st.one_of(
    st.tuples(submissions(), st.booleans()).map(lambda t: encode(*t)),
    st.tuples(json_values, st.booleans()).map(lambda t: encode(*t)),
    st.binary(max_size=200),
    st.sampled_from(NASTY).map(str.encode),
)
requests = st.sampled_from([False] * 9 + [True]).flatmap(
    lambda valid: (
        st.tuples(valid_moves, st.booleans()).map(lambda t: encode(*t))
        if valid
        else invalid_requests
    )
)
EXAMPLES = 800


@pytest.fixture
def client(hub_settings: HubSettings, wiring: Wiring) -> Iterator[TestClient]:
    with TestClient(create_app(hub_settings), raise_server_exceptions=False) as c:
        yield c


def test_generated_events_never_get_a_5xx_and_the_worker_still_routes(
    client: TestClient,
    worker: WorkerProcess,
    hub_settings: HubSettings,
    wait_audit: Callable[..., list[AuditRow]],
) -> None:
    statuses: dict[int, int] = {}
    server_errors: list[tuple[bytes, str]] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=requests, key=st.sampled_from(KEYS))
    def post(body: bytes, key: dict[str, str]) -> None:
        response = client.post(
            "/v1/events", content=body, headers={**key, "content-type": "application/json"}
        )
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            server_errors.append((body[:300], response.text[:300]))
        else:
            error = response.json().get("error") if response.status_code >= 400 else None
            assert error is None or {"code", "message", "problems"} <= error.keys()

    started = time.monotonic()
    post()
    took = time.monotonic() - started
    assert sum(statuses.values()) >= EXAMPLES
    assert server_errors == [], server_errors[:5]
    # both paths exercised: some accepted (about 5%), many refused as invalid (about a third)
    assert statuses.get(202, 0) > EXAMPLES // 40 and statuses.get(422, 0) > EXAMPLES // 10, statuses
    print(f"fuzz: {sum(statuses.values())} requests in {took:.1f}s: {sorted(statuses.items())}")

    # the worker routed whatever was accepted, and still routes a real event
    for body in link_bodies("P-fuzz-1"):
        linker = {"Authorization": "Bearer demo-customer-index-key"}
        assert client.post("/v1/events", json=body, headers=linker).status_code == 202
    move = {
        "id": "after-the-fuzz",
        "type": "address.changed",
        "subject": "P-fuzz-1",
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
    assert client.post("/v1/events", json=move, headers=SOURCE).status_code == 202
    rows = wait_audit(["after-the-fuzz"], 5, timeout=60)
    assert "delivered" in {str(r.outcome) for r in rows if r.recipient == "waste"}
    inbox = InboxStore(make_engine(hub_settings.effective_database_url))
    wait_for(
        lambda: any(
            e.delivery.event_id == "after-the-fuzz" for e in inbox.fetch("waste", 0, 10_000)
        ),
        "the event after the fuzz in waste's inbox",
    )
    assert worker.proc is not None and worker.proc.poll() is None
