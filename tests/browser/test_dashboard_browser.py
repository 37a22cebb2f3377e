"""IG signs in, searches for a person's transfers and opens their subject access report."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import RunningHub
from tests.e2e.ig_scenario import PERSON, play_scenario

IG_KEY = "demo-information-governance-key"
PURPOSE = "SAR 2026-0142 from the resident"


def test_ig_finds_a_person_and_opens_their_report(running_hub: RunningHub, browser: Any) -> None:
    rows = [r for r in play_scenario(running_hub) if r["event_type"] == "address.changed"]
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
