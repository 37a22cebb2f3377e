"""Without an identity provider (the embedded laptop default), IG signs in with an API key: the
session cookie holds a server-side session id, never the key; a wrong key is refused."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import RunningHub
from tests.e2e.ig_scenario import PERSON

IG_KEY = "demo-information-governance-key"
PURPOSE = "SAR 2026-0142 from the resident"


def test_ig_signs_in_with_a_key_that_the_cookie_does_not_hold(
    running_hub: RunningHub, browser: Any
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{running_hub.url}/dashboard")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    assert "unknown API key" in page.get_by_role("alert").inner_text()
    page.get_by_label("API key").fill(IG_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="IG workbench", level=1)).to_be_visible()
    cookies = context.cookies()
    assert [c["name"] for c in cookies] == ["hub_session"]
    assert cookies[0]["httpOnly"] and IG_KEY not in cookies[0]["value"]
    page.goto(
        f"{running_hub.url}/dashboard/subject?hub_id={PERSON}&purpose={PURPOSE.replace(' ', '+')}"
    )
    expect(
        page.get_by_role("heading", name=f"Subject access report: hub id {PERSON}")
    ).to_be_visible()
    page.get_by_role("link", name="Access log").click()
    assert "information-governance" in page.get_by_test_id("access-log").inner_text()
