"""IG signs in through the council's (test) OpenID Connect provider and uses every workbench
page in Chromium: each page axe-core clean (zero violations), reflowing at 320 px without a
horizontal scroll of the page, keyboard usable. With SCREENSHOTS_DIR set (`make screenshots`),
every page is also saved at 1280 and 320 px."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from runtime.demo import SCENARIO, post_event
from tests.browser.conftest import CHROMIUM
from tests.e2e.conftest import RunningHub
from tests.e2e.ig_scenario import IG, PERSON, play_scenario
from tests.e2e.workbench_hub import oidc_hub
from tests.oidc_provider import OidcProvider
from tests.waiting import wait_for

PURPOSE = "SAR 2026-0142 from the resident"
AXE_CACHE = Path.home() / ".cache" / "tell-it-once-tests" / "axe"


def axe_source() -> str:
    """axe-core from the npm registry (installed once into a cache directory)."""
    script = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("no npm to fetch axe-core")
        AXE_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(AXE_CACHE),
             "axe-core@4"],
            check=True, timeout=300,
        )  # fmt: skip
    return script.read_text()


@pytest.fixture(scope="module")
def workbench(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningHub, OidcProvider, Any]]:
    if CHROMIUM is None:
        pytest.skip("no Chromium: `apt-get install chromium` (make test does it when root)")
    sync_api = pytest.importorskip("playwright.sync_api")
    axe = axe_source()
    with oidc_hub(Path(tmp_path_factory.mktemp("wb")) / "data") as (hub, provider):
        play_scenario(hub)
        queue_a_stranger(hub)
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script(axe)
            yield hub, provider, context
            browser.close()


def queue_a_stranger(hub: RunningHub) -> None:
    """An event about a person nobody has linked: held in the review queue."""
    stranger = {**SCENARIO[0].body, "subject": "P-404"}
    with httpx.Client(base_url=hub.url, timeout=10) as client:
        assert post_event(client, "council-tax", stranger).status_code == 202
        wait_for(
            lambda: client.get("/v1/review", headers=IG).json(), "an event in the review queue"
        )


def check_page(page: Any, name: str) -> None:
    """Zero axe violations; at 320 px no horizontal scroll of the page; screenshots if asked."""
    page.wait_for_load_state("load")
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    problems = [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
    ]
    assert problems == [], f"{name}: {problems}"
    shots = os.environ.get("SCREENSHOTS_DIR")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{shots}/{name}-1280.png", full_page=True)
    page.set_viewport_size({"width": 320, "height": 800})
    try:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, f"{name}: the page scrolls sideways at 320 px ({width} px wide)"
        if shots:
            page.screenshot(path=f"{shots}/{name}-320.png", full_page=True)
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def test_ig_signs_in_and_uses_every_page(workbench: tuple[RunningHub, OidcProvider, Any]) -> None:
    hub, _provider, context = workbench
    page = context.new_page()
    page.goto(f"{hub.url}/dashboard")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    check_page(page, "sign-in")
    page.get_by_role("link", name="Sign in with your council account").click()
    page.get_by_label("Account").select_option("ig.officer")  # the provider's own page
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="IG workbench", level=1)).to_be_visible()
    assert "Priya Shah" in page.locator("header").inner_text()
    # keyboard: the skip link first, then every navigation link reachable by Tab
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    nav_links = page.get_by_role("navigation").get_by_role("link").count()
    reached = set()
    for _ in range(nav_links + 3):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.getAttribute('href')"))
    assert {"/dashboard/review", "/dashboard/quality", "/dashboard/agreements"} <= reached
    check_page(page, "overview")

    # search: refused without a purpose, then results on the first screen
    page.get_by_role("link", name="Search transfers").click()
    check_page(page, "search")
    page.get_by_label("Person: hub id").fill(PERSON)
    page.get_by_role("button", name="Search").click()
    assert "purpose" in page.get_by_role("alert").inner_text().lower()
    page.get_by_label("Purpose").fill(PURPOSE)
    page.get_by_role("button", name="Search").click()
    results = page.get_by_test_id("results")
    assert results.locator("tbody tr").count() > 0
    assert results.bounding_box()["y"] < 900  # first screen
    assert "Waste" in results.inner_text() or "waste" not in results.inner_text()  # names, not ids
    assert " GMT" in results.inner_text() or " BST" in results.inner_text()  # UK time
    check_page(page, "search-results")

    # subject access report, on its own page, by keyboard
    page.get_by_role("link", name="Subject access").click()
    page.get_by_label("Person: hub id").fill(PERSON)
    page.get_by_label("Purpose").fill(PURPOSE)
    page.get_by_label("Purpose").press("Enter")
    expect(
        page.get_by_role("heading", name=f"Subject access report: hub id {PERSON}")
    ).to_be_visible()
    assert page.get_by_test_id("sar-delivered").locator("tbody tr").count() > 0
    check_page(page, "subject-report")

    # agreement register and one agreement with its fields and versions
    page.get_by_role("link", name="Agreements").click()
    register = page.get_by_test_id("register")
    assert register.locator("tbody tr").count() > 0
    check_page(page, "agreements")
    register.get_by_role("link").first.click()
    assert page.get_by_test_id("fields").locator("tbody tr").count() > 0
    assert "(current)" in page.get_by_test_id("versions").inner_text()
    assert "Art. 9 condition" in page.get_by_test_id("agreement").inner_text()
    check_page(page, "agreement")

    page.get_by_role("link", name="Review reminders").click()
    expect(page.get_by_role("heading", name="Review reminders")).to_be_visible()
    due = page.get_by_test_id("reminders").inner_text()
    assert "DSA-005" in due and "Past its review date" in due and "31 Jan 2026" in due
    check_page(page, "reminders")

    # the access log names the person who read, with their purpose
    page.get_by_role("link", name="Access log").click()
    log = page.get_by_test_id("access-log")
    assert "priya.shah@council.example" in log.locator("td.who").first.inner_text()
    assert PURPOSE in log.inner_text()
    check_page(page, "access-log")

    page.get_by_role("link", name="Audit chain").click()
    page.get_by_role("button", name="Verify the chain now").click()
    assert page.get_by_test_id("verify-status").inner_text().startswith("Intact")
    check_page(page, "audit")

    page.get_by_role("link", name="Consent and objections").click()
    expect(page.get_by_role("heading", name="Consent withdrawals and objections")).to_be_visible()
    check_page(page, "consent")

    page.get_by_role("link", name="Rejected and data quality").click()
    expect(page.get_by_role("heading", name="Problems by source and rule")).to_be_visible()
    assert "Council Tax" in page.get_by_test_id("by-rule").inner_text()  # the refused name change
    check_page(page, "quality")

    page.get_by_role("link", name="Review queue").click()
    expect(page.get_by_role("heading", name="Review queue", level=1)).to_be_visible()
    queue = page.get_by_test_id("review")
    assert "Council Tax" in queue.inner_text()  # the source by name
    check_page(page, "review")
    queue.get_by_role("button", name="Retry").first.click()
    assert "was sent to the router again" in page.get_by_role("status").inner_text()
    page.get_by_label("Show").select_option("retried")
    page.get_by_role("button", name="Show").click()
    assert page.get_by_label("Show").input_value() == "retried"
    check_page(page, "review-retried")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{hub.url}/dashboard/access-log")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
