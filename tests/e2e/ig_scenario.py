"""The demo scenario as IG's tests play it on a running hub, and the personal values it sends."""

from __future__ import annotations

from typing import Any

import httpx

from runtime.demo import SCENARIO, link_step, post_event
from tests.e2e.conftest import RunningHub
from tests.waiting import wait_for_items

IG = {"Authorization": "Bearer demo-information-governance-key"}
PERSON = "P-100234"  # the demo's resident who moves house

NAME_CHANGE = {
    "type": "name.changed",
    "subject": "P-100777",
    "data": {
        "previous_name": {"title": "Ms", "given_names": "Harriet Quill", "family_name": "Ormerod"},
        "new_name": {"title": "Dr", "given_names": "Harriet Quill", "family_name": "Vanstone"},
        "effective_date": SCENARIO[0].body["data"]["effective_date"],
        "reason": "marriage",
    },
}
BAD_NAME_CHANGE = {**NAME_CHANGE, "data": {**NAME_CHANGE["data"], "effective_date": "1 May"}}


def personal_values() -> list[str]:
    """Every personal value the scenario sends (address lines, postcodes, names, dates)."""
    moved = SCENARIO[0].body["data"]
    death = SCENARIO[1].body["data"]
    values = [
        *moved["previous_address"]["lines"],
        *moved["new_address"]["lines"],
        moved["previous_address"]["postcode"],
        moved["new_address"]["postcode"],
        moved["previous_address"]["uprn"],
        moved["new_address"]["uprn"],
        death["date_of_death"],
        "Harriet Quill",
        "Ormerod",
        "Vanstone",
    ]
    return [v for v in values if v != "Exampleton"] + ["Exampleton"]


def play_scenario(hub: RunningHub) -> list[dict[str, Any]]:
    with httpx.Client(base_url=hub.url, timeout=10) as client:
        for body in link_step():
            assert post_event(client, "customer-index", body).status_code == 202
        for step in SCENARIO:
            assert post_event(client, step.source, step.body).status_code == 202
        assert post_event(client, "council-tax", NAME_CHANGE).status_code in (202, 403, 422)
        assert post_event(client, "council-tax", BAD_NAME_CHANGE).status_code == 422

        def transfers() -> list[dict]:
            return [
                r
                for r in client.get("/v1/audit/transfers", headers=IG).json()["rows"]
                if r["event_type"] != "identity.link"  # the links have entries of their own
            ]

        # five subscribers for each of the two events
        wait_for_items(transfers, 10, "transfers audited", 60, every=0.3)
        return list(client.get("/v1/audit/transfers", headers=IG).json()["rows"])
