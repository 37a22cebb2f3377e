"""IG signs in through a real OpenID Connect provider (authorization code + PKCE, RS256 id
token): the session cookie is signed and holds no key, the access log names the person, API keys
still work for systems, and the key-paste form is refused once OIDC is configured."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.e2e.conftest import RunningHub
from tests.e2e.workbench_hub import oidc_hub
from tests.oidc_provider import USERS, OidcProvider
from tests.workbench_client import csrf_token

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
        # signing out is a form with the session's CSRF token: without it, refused
        refused = client.post("/dashboard/logout")
        assert refused.status_code == 403 and "Nothing was changed" in refused.text
        assert client.get("/v1/audit/access-log").status_code == 200
        client.post("/dashboard/logout", data={"csrf_token": csrf_token(overview.text)})
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


def test_the_test_provider_holds_to_pkce_and_the_client_secret(
    hub: tuple[RunningHub, OidcProvider],
) -> None:
    """The provider the sign-in tests rely on refuses what a real one refuses."""
    _, provider = hub
    redirect = "http://127.0.0.1:9/dashboard/auth/callback"
    verifier = "v" * 50
    params = {
        "client_id": provider.client_id,
        "response_type": "code",
        "scope": "openid email",
        "redirect_uri": redirect,
        "state": "s",
        "nonce": "n-pkce-test",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    assert (
        httpx.get(
            f"{provider.issuer}/authorize", params={**params, "code_challenge_method": "plain"}
        ).status_code
        == 400
    )
    no_pkce = {k: v for k, v in params.items() if not k.startswith("code_challenge")}
    refused = httpx.get(f"{provider.issuer}/authorize", params=no_pkce)
    assert (
        "error=invalid_request" in refused.headers.get("location", "") or refused.status_code == 400
    )

    def code() -> str:
        fresh = {**params, "nonce": secrets.token_hex(8)}  # a nonce is used once
        location = httpx.get(f"{provider.issuer}/authorize", params=fresh).headers["location"]
        return parse_qs(urlparse(location).query)["code"][0]

    def token(code: str, verifier: str, secret: str) -> httpx.Response:
        return httpx.post(
            f"{provider.issuer}/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
                  "code_verifier": verifier},
            auth=(provider.client_id, secret),
        )  # fmt: skip

    assert token(code(), "w" * 50, provider.client_secret).json()["error"] == "invalid_grant"
    assert token(code(), verifier, "wrong-secret").status_code == 401
    good = token(code(), verifier, provider.client_secret)
    assert good.status_code == 200 and good.json()["id_token"].count(".") == 2


def test_review_reminders_are_a_metric(hub: tuple[RunningHub, OidcProvider]) -> None:
    running, _ = hub
    deadline = time.monotonic() + 30
    while True:
        lines = httpx.get(f"{running.url}/metrics").text.splitlines()
        found = [line for line in lines if line.startswith("hub_agreements_needing_review ")]
        if found:
            break
        assert time.monotonic() < deadline, "no hub_agreements_needing_review gauge"
        time.sleep(0.3)
    assert float(found[0].split()[1]) == 1  # DSA-005, past its review date
    assert "# HELP hub_agreements_needing_review Agreements past their review date" in "\n".join(
        lines
    )


def test_pages_take_any_date_range_and_say_when_a_date_is_wrong(
    hub: tuple[RunningHub, OidcProvider],
) -> None:
    running, _ = hub
    with sign_in(running) as client:
        month = client.get("/dashboard", params={"from": "2026-01-01", "to": "2026-01-31"})
        assert month.status_code == 200 and "over the last 31 days" in month.text
        bad = client.get("/dashboard/access-log", params={"from": "2026-02-30"})
        assert bad.status_code == 422
        assert "from must be a date like 2026-03-31" in bad.text
        backwards = client.get(
            "/dashboard/consent", params={"from": "2026-03-02", "to": "2026-03-01"}
        )
        assert backwards.status_code == 422 and "before the" in backwards.text
        assert client.get("/dashboard/agreements/DSA-999").status_code == 404
