"""Workbench decisions without a server: page arithmetic and the page input, the CSRF token
check, and every state-changing workbench route guarded by it."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from hub.api import dashboard
from hub.api.signin import csrf_ok, csrf_token, install_sessions
from hub.paging import MAX_PAGE, Page, page_number
from hub.settings import HubSettings


def test_a_page_says_where_it_is_in_the_whole() -> None:
    middle = Page(list(range(500)), total=1_200, number=2, size=500)
    assert (middle.first, middle.last, middle.partial, middle.has_next) == (501, 1000, True, True)
    assert middle.has_previous and not middle.past_the_end
    last = Page(list(range(200)), total=1_200, number=3, size=500)
    assert (last.first, last.last, last.has_next) == (1001, 1200, False)
    whole = Page([1, 2], total=2)
    assert not whole.partial and not whole.has_next and not whole.has_previous
    beyond = Page([], total=1_200, number=9, size=500)
    assert beyond.past_the_end and beyond.first == 0 and not beyond.has_next
    assert not Page([], total=0).past_the_end


@pytest.mark.parametrize(
    "text", ["0", "-1", "many", "1.5", "", str(MAX_PAGE + 1), "9" * 5000, "\u0661"]
)
def test_a_page_input_is_a_whole_number_from_1(text: str) -> None:
    with pytest.raises(ValueError, match="the page must be a whole number"):
        page_number(text)


def test_page_numbers_read() -> None:
    assert page_number("1") == 1 and page_number(" 7 ") == 7 and page_number(str(MAX_PAGE))


def test_the_csrf_token_is_the_sessions_own() -> None:
    app = FastAPI()
    install_sessions(app, HubSettings(), "k" * 32)

    @app.get("/form")
    def form(request: Request) -> dict[str, str]:
        return {"token": csrf_token(request)}

    @app.post("/check")
    def check(request: Request, sent: str = "") -> dict[str, bool]:
        return {"ok": csrf_ok(request, sent)}

    first, other = TestClient(app), TestClient(app)
    token = first.get("/form").json()["token"]
    assert token == first.get("/form").json()["token"] and len(token) >= 40
    assert first.post("/check", params={"sent": token}).json() == {"ok": True}
    for sent in ("", token[:-1], token + "x", other.get("/form").json()["token"]):
        assert first.post("/check", params={"sent": sent}).json() == {"ok": False}
    assert other.post("/check", params={"sent": token}).json() == {"ok": False}


def test_every_state_changing_workbench_route_checks_the_token() -> None:
    """A POST route under /dashboard depends on checked_form (sign-in checks it itself, after
    refusing key sign-in where it is not allowed)."""
    posts = [r for r in dashboard.router.routes if isinstance(r, APIRoute) and "POST" in r.methods]
    assert posts
    for route in posts:
        calls = {d.call for d in route.dependant.dependencies}
        if route.path == "/dashboard/login":
            continue
        assert dashboard.checked_form in calls, route.path
