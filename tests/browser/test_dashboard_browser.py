"""IG signs in, searches for a person's transfers and opens their subject access report."""

from __future__ import annotations

import time
from typing import Any

import httpx

from runtime.demo import SCENARIO, link_step, post_event
from tests.e2e.conftest import RunningHub

IG_KEY = "demo-information-governance-key"
PERSON = "P-100234"
PURPOSE = "SAR 2026-0142 from the resident"


def audited(hub: RunningHub) -> list[dict[str, Any]]:
    with httpx.Client(base_url=hub.url, timeout=10) as client:
        for body in link_step():
            assert post_event(client, "customer-index", body).status_code == 202
        for step in SCENARIO:
            assert post_event(client, step.source, step.body).status_code == 202
        deadline = time.monotonic() + 60
        while True:
            page = client.get(
                "/v1/audit/transfers",
                params={"hub_id": PERSON, "purpose": "test setup"},
                headers={"Authorization": f"Bearer {IG_KEY}"},
            ).json()
            if len(page["rows"]) >= 5:
                return list(page["rows"])
            assert time.monotonic() < deadline
            time.sleep(0.3)


def test_ig_finds_a_person_and_opens_their_report(running_hub: RunningHub, browser: Any) -> None:
    rows = audited(running_hub)
    delivered = sorted(r["recipient"] for r in rows if r["outcome"] == "delivered")
    withheld = sorted(r["recipient"] for r in rows if r["outcome"] == "withheld")
    page = browser.new_page()
    page.goto(f"{running_hub.url}/dashboard")
    # not signed in: the sign-in page, its field labelled
    assert page.get_by_role("heading", name="Sign in").is_visible()
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    assert "unknown API key" in page.get_by_role("alert").inner_text()
    page.get_by_label("API key").fill(IG_KEY)
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("heading", name="IG workbench", level=1).is_visible()
    # landmarks, a skip link first in the tab order, and the chart described for screen readers
    assert page.get_by_role("main").count() == 1 and page.get_by_role("navigation").count() == 1
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    chart = page.get_by_role("img", name="transfers delivered")
    assert chart.count() == 1
    assert page.locator("svg.chart rect").count() >= len(delivered)
    # the agreements needing review and the withheld-by-reason sections are there
    assert page.get_by_role("heading", name="Agreements").is_visible()
    assert page.get_by_role("heading", name="Withheld transfers by reason").is_visible()

    # search without a purpose: refused, and said so
    search = page.locator("#search")
    search.get_by_label("Person: hub id").fill(PERSON)
    search.get_by_role("button", name="Search").click()
    assert "purpose" in page.get_by_role("alert").inner_text().lower()
    search = page.locator("#search")
    search.get_by_label("Person: hub id").fill(PERSON)
    search.get_by_label("Purpose").fill(PURPOSE)
    search.get_by_role("button", name="Search").click()
    results = page.get_by_test_id("results").locator("tbody tr")
    assert results.count() == len(rows)

    # the subject access report, by keyboard
    subject = page.locator("#subject")
    subject.get_by_label("Person: hub id").fill(PERSON)
    subject.get_by_label("Purpose").fill(PURPOSE)
    subject.get_by_label("Purpose").press("Enter")
    assert page.get_by_role("heading", name=f"Subject access report: hub id {PERSON}").is_visible()
    shown = sorted(page.get_by_test_id("sar-delivered").locator("td.recipient").all_inner_texts())
    assert shown == delivered
    if withheld:
        shown = page.get_by_test_id("sar-withheld").locator("td.recipient").all_inner_texts()
        assert sorted(shown) == withheld
    assert PURPOSE in page.content()

    # the reads were recorded with their purpose
    log = httpx.get(
        f"{running_hub.url}/v1/audit/access-log",
        headers={"Authorization": f"Bearer {IG_KEY}"},
    ).json()
    assert [(e["via"], e["what"]) for e in log[:2]] == [
        ("dashboard", "subject_access_report"),
        ("dashboard", "transfer_search"),
    ]
