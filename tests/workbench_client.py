"""Driving the IG workbench's forms as a browser does: the session's CSRF token from the page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response

IG_KEY = "demo-information-governance-key"


def csrf_token(html: str) -> str:
    """The hidden `csrf_token` field every workbench form carries."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form carrying a CSRF token"
    return found.group(1)


def key_sign_in(client: TestClient, key: str = IG_KEY) -> Response:
    """Sign in with an API key (the laptop default) through the sign-in form."""
    token = csrf_token(client.get("/dashboard/login").text)
    return client.post(
        "/dashboard/login",
        data={"api_key": key, "csrf_token": token},
        follow_redirects=False,
    )
