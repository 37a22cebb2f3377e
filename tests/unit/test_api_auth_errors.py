"""API keys, roles and the JSON error shape."""

from __future__ import annotations

import hashlib

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.api.auth import authenticate, hash_key, new_key, require_role
from hub.api.errors import BadRequest, error_body, install_error_handlers, status_for
from hub.config.model import HubConfig, Role
from hub.errors import (
    AuthenticationError,
    BrokerError,
    CodecError,
    ConfigError,
    EventValidationError,
    PermissionDenied,
    Problem,
)

SYSTEM_IDS = [
    "council-tax",
    "registrar",
    "waste",
    "libraries",
    "parking",
    "adult-social-care",
    "electoral",
]


@pytest.mark.parametrize("system_id", SYSTEM_IDS)
def test_each_demo_key_authenticates_its_system(config: HubConfig, system_id: str) -> None:
    assert authenticate(config, f"Bearer demo-{system_id}-key").id == system_id


def test_scheme_is_case_insensitive_and_key_is_trimmed(config: HubConfig) -> None:
    assert authenticate(config, "bearer   demo-waste-key  ").id == "waste"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "demo-waste-key",
        "Basic demo-waste-key",
        "Bearer",
        "Bearer    ",
        "Bearer demo-nobody-key",
        "Bearer DEMO-WASTE-KEY",
        "Bearer d5f84b363974858e0b75f13d1e3ba6fe7ed9206f52fb427c835557ec2019ff39",
    ],
)
def test_bad_credentials_are_an_authentication_error(config: HubConfig, header: str | None) -> None:
    with pytest.raises(AuthenticationError):
        authenticate(config, header)


def test_require_role(config: HubConfig) -> None:
    waste = authenticate(config, "Bearer demo-waste-key")
    assert require_role(waste, Role.RECIPIENT) is waste
    with pytest.raises(PermissionDenied, match="waste"):
        require_role(waste, Role.SOURCE)
    council_tax = authenticate(config, "Bearer demo-council-tax-key")
    with pytest.raises(PermissionDenied, match="recipient"):
        require_role(council_tax, Role.RECIPIENT)


def test_hash_key_is_sha256_hex() -> None:
    assert hash_key("demo-waste-key") == hashlib.sha256(b"demo-waste-key").hexdigest()


def test_new_keys_are_unique_and_prefixed() -> None:
    keys = {new_key() for _ in range(20)}
    assert len(keys) == 20
    assert all(k.startswith("tio_") and len(k) > 40 for k in keys)


def test_error_body_shape() -> None:
    body = error_body(
        "event_invalid",
        "the event is not valid",
        [Problem("data.new_address.uprn", "string_pattern_mismatch", "1 to 12 digits")],
    )
    assert body == {
        "error": {
            "code": "event_invalid",
            "message": "the event is not valid",
            "problems": [
                {
                    "field": "data.new_address.uprn",
                    "rule": "string_pattern_mismatch",
                    "message": "1 to 12 digits",
                }
            ],
        }
    }


def test_error_body_without_problems_has_an_empty_list() -> None:
    assert error_body("forbidden", "no") == {
        "error": {"code": "forbidden", "message": "no", "problems": []}
    }


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (AuthenticationError("x"), 401),
        (PermissionDenied("x"), 403),
        (EventValidationError("x", []), 422),
        (ConfigError("x", []), 422),
        (BrokerError("x"), 503),
        (BadRequest("x"), 400),
        (CodecError("x"), 500),
    ],
)
def test_status_for(exc: Exception, status: int) -> None:
    assert status_for(exc) == status  # type: ignore[arg-type]


def _client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/invalid")
    def invalid() -> None:
        raise EventValidationError(
            "the event is not valid", [Problem("time", "timezone", "time must include a timezone")]
        )

    @app.get("/unauthenticated")
    def unauthenticated() -> None:
        raise AuthenticationError("unknown API key")

    @app.get("/typed/{n}")
    def typed(n: int) -> int:
        return n

    return TestClient(app)


def test_hub_errors_become_json_with_code_message_and_problems() -> None:
    response = _client().get("/invalid")
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "event_invalid",
            "message": "the event is not valid",
            "problems": [
                {"field": "time", "rule": "timezone", "message": "time must include a timezone"}
            ],
        }
    }


def test_authentication_errors_are_401_with_a_bearer_challenge() -> None:
    response = _client().get("/unauthenticated")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == {
        "code": "unauthenticated",
        "message": "unknown API key",
        "problems": [],
    }


def test_request_validation_and_not_found_are_json_too() -> None:
    client = _client()
    bad = client.get("/typed/seven")
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid"
    assert bad.json()["error"]["problems"][0]["field"] == "path.n"
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"  # as every other 404
