"""IG signs in through a real OpenID Connect provider (authorization code + PKCE, RS256 id
token): the session cookie is signed and holds no key, the access log names the person, API keys
still work for systems, and the key-paste form is refused once OIDC is configured."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import RunningHub
from tests.e2e.workbench_hub import oidc_hub
from tests.oidc_provider import USERS, OidcProvider

IG_KEY = "demo-information-governance-key"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningHub, OidcProvider]]:
    with oidc_hub(Path(tmp_path_factory.mktemp("wb")) / "data", auto_user="ig.officer") as h:
        yield h


@contextmanager
def sign_in(hub: RunningHub) -> Iterator[httpx.Client]:
    client = httpx.Client(base_url=hub.url, follow_redirects=True, timeout=10)
    response = client.get("/dashboard/auth/start")
    assert response.status_code == 200, response.text
    assert str(response.url).rstrip("/").endswith("/dashboard")
    try:
        yield client
    finally:
        client.close()


def test_a_person_signs_in_and_is_named_in_the_access_log(
    hub: tuple[RunningHub, OidcProvider],
) -> None:
    running, provider = hub
    issued = provider.tokens_issued
    with sign_in(running) as client:
        assert provider.tokens_issued == issued + 1
        overview = client.get("/dashboard")
        assert "Priya Shah" in overview.text and "Sign out" in overview.text
        # the cookie: signed session, HttpOnly, no API key, no token
        cookie = next(c for c in client.cookies.jar if c.name == "hub_session")
        assert cookie.has_nonstandard_attr("httponly") and not cookie.secure  # loopback: http
        payload = cookie.value.split(".")[0]
        data = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
        assert data["who"]["kind"] == "person" and "ig" in data["who"]["roles"]
        assert IG_KEY not in cookie.value and "key" not in json.dumps(data)
        # a tampered cookie is no sign-in
        forged = httpx.get(
            f"{running.url}/dashboard",
            cookies={"hub_session": cookie.value[:-2] + "xx"},
            follow_redirects=False,
        )
        assert forged.status_code == 303 and forged.headers["location"] == "/dashboard/login"
        # a read about a person names the person in the access log (page and IG API alike)
        report = client.get(
            "/dashboard/subject", params={"hub_id": "P-100234", "purpose": "SAR 2026-7"}
        )
        assert report.status_code == 200
        log = client.get("/v1/audit/access-log").json()
        who = USERS["ig.officer"]
        assert log[0]["actor"] == f"{who['email']} [{who['sub']}]"
        assert log[0]["purpose"] == "SAR 2026-7"
        client.post("/dashboard/logout")
        assert client.get("/v1/audit/access-log").status_code == 401


def test_api_keys_stay_for_systems_and_the_key_form_is_refused(
    hub: tuple[RunningHub, OidcProvider],
) -> None:
    running, _ = hub
    headers = {"Authorization": f"Bearer {IG_KEY}"}
    assert httpx.get(f"{running.url}/v1/audit/access-log", headers=headers).status_code == 200
    refused = httpx.post(f"{running.url}/dashboard/login", data={"api_key": IG_KEY})
    assert refused.status_code == 403 and "council account" in refused.text
    assert "hub_session" not in refused.cookies or "sid" not in refused.text


def test_a_person_without_the_ig_group_is_refused(hub: tuple[RunningHub, OidcProvider]) -> None:
    running, provider = hub
    provider.auto_user = "no.role"
    try:
        with httpx.Client(base_url=running.url, follow_redirects=True, timeout=10) as client:
            response = client.get("/dashboard/auth/start")
            assert response.status_code == 403
            assert "no IG role" in response.text
            assert client.get("/dashboard", follow_redirects=False).status_code == 303
    finally:
        provider.auto_user = "ig.officer"


def test_a_forged_callback_is_refused(hub: tuple[RunningHub, OidcProvider]) -> None:
    running, _ = hub
    response = httpx.get(
        f"{running.url}/dashboard/auth/callback", params={"code": "made-up", "state": "nope"}
    )
    assert response.status_code == 401 and "sign-in failed" in response.text.lower()
