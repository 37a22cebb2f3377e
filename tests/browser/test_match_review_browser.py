"""Clerical review in the browser: a reviewer opens the uncertain pair side by side, accepts
it, and the held move reaches the service under its own record id."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import start_hub
from tests.e2e.test_identity_match import (
    inbox,
    load_and_train,
    send_extracts_and_move,
)
from tests.waiting import wait_for

IG_KEY = "demo-information-governance-key"


def test_a_reviewer_accepts_a_pair_and_the_event_is_released(
    hub_env: dict[str, str], tmp_path: Path, browser: Any
) -> None:
    load_and_train(hub_env, tmp_path)
    hub = start_hub(hub_env)
    try:
        send_extracts_and_move(hub)
        ig = {"Authorization": f"Bearer {IG_KEY}"}
        wait_for(
            lambda: httpx.get(f"{hub.url}/v1/match/candidates", headers=ig, timeout=10).json(),
            "a candidate pair",
            90,
        )
        page = browser.new_page()
        page.goto(f"{hub.url}/match/review")
        page.get_by_label("Your API key (IG)").fill(IG_KEY)
        page.get_by_label("Your name").fill("A. Reviewer")
        page.get_by_role("button", name="Load pairs").click()
        page.get_by_role("link", name="to parking").click()
        page.get_by_role("heading", name="record PK-3").wait_for()
        row = page.locator("tr.disagree", has_text="given_name")
        assert "Margaret" in row.inner_text() and "M" in row.inner_text()
        assert page.locator("tr.agree", has_text="date_of_birth").count() == 1
        assert inbox(hub, "parking") == []
        page.get_by_role("button", name="Accept (link)").click()
        status = page.get_by_role("status")
        wait_for(lambda: "released" in status.inner_text(), "the page to confirm the release", 90)
        assert status.inner_text() == "accepted; the held event was released"
        got = wait_for(lambda: inbox(hub, "parking"), "parking's delivery after review", 90)
        assert [(m["event_id"], m["local_id"]) for m in got] == [("move-9000001", "PK-3")]
    finally:
        hub.proc.send_signal(signal.SIGINT)
        try:
            hub.proc.wait(30)
        except Exception:
            hub.proc.kill()
