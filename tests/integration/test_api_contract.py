"""The OpenAPI document is what the API does: Schemathesis against /openapi.json on the running
API (bounded: a few examples per operation), no server error and no undocumented status; the
security scheme, the error model, Allow on 405, explicit operation ids, /docs and /redoc
served from the package (offline)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    status_code_conformance,
)

from hub.broker.embedded import EmbeddedBroker
from hub.settings import HubSettings
from tests.integration.test_receiver_contract import api_server

KEYS = {
    "ig": {"Authorization": "Bearer demo-information-governance-key"},
    "recipient": {"Authorization": "Bearer demo-waste-key"},
    "source": {"Authorization": "Bearer demo-council-tax-key"},
}
EXAMPLES_PER_OPERATION = 3
BUDGET_S = 60.0


@pytest.fixture
def api_url(broker: EmbeddedBroker, settings: HubSettings) -> Iterator[str]:
    with api_server(settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})) as url:
        yield url


def conformance(operation: Any, api_url: str, headers: dict[str, str]) -> Callable[[], None]:
    """A bounded property test of one operation: no server error, no undocumented status or
    content type."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        if "wait" in (case.query or {}):  # a long poll: its time is not what is tested here
            case.query["wait"] = 0
        response = case.call(base_url=api_url, headers=headers, timeout=30)
        case.validate_response(
            response,
            checks=[not_a_server_error, status_code_conformance, content_type_conformance],
        )

    return check


def test_schemathesis_finds_no_server_error_and_no_undocumented_status(api_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) > 25
    for operation in operations:
        # a recipient's key for its own operations, a source's for ingest, IG's for the rest
        who = (
            "recipient"
            if operation.path.startswith(("/v1/inbox", "/v1/receiver"))
            else "source"
            if operation.path == "/v1/events"
            else "ig"
        )
        conformance(operation, api_url, KEYS[who])()
    elapsed = time.monotonic() - started
    assert elapsed < BUDGET_S, f"schemathesis took {elapsed:.0f} s"


def test_the_document_has_the_security_scheme_error_model_and_stable_ids(api_url: str) -> None:
    spec = httpx.get(f"{api_url}/openapi.json").json()
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids  # not path-generated
    inbox = spec["paths"]["/v1/inbox"]["get"]
    assert inbox["security"] == [{"apiKey": []}]
    for status in ("401", "403", "422"):
        ref = inbox["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorBody")
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    union = spec["components"]["schemas"]["AnyDelivery"]
    assert union["discriminator"]["propertyName"] == "type"
    assert "address.changed" in union["discriminator"]["mapping"]
    assert "example" in union
    events = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert events["schema"]["$ref"].endswith("/AnyEventSubmission")
    assert "delivery" in spec["webhooks"]
    # the real error model on a 422
    bad = httpx.get(f"{api_url}/v1/inbox?after=-1", headers=KEYS["recipient"])
    assert bad.status_code == 422 and set(bad.json()["error"]) == {"code", "message", "problems"}


def test_the_asyncapi_document_is_served(api_url: str) -> None:
    doc = httpx.get(f"{api_url}/asyncapi.json").json()
    assert doc["asyncapi"] == "3.0.0"
    assert any(c["address"] == "events.address.changed" for c in doc["channels"].values())


def test_405_says_what_is_allowed(api_url: str) -> None:
    response = httpx.delete(f"{api_url}/v1/inbox", headers=KEYS["recipient"])
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]
    assert response.json()["error"]["code"] == "http_405"


def test_every_404_carries_the_same_error_code(api_url: str) -> None:
    """The match routes' 404 is hub.errors.NotFound's, as an unknown path's and the others'."""
    for path in ("/v1/match/candidates/987654", "/v1/no-such-endpoint"):
        response = httpx.get(f"{api_url}{path}", headers=KEYS["ig"])
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found", (path, response.text)
    decided = httpx.post(
        f"{api_url}/v1/match/candidates/987654/decision",
        json={"decision": "accept", "by": "Priya"},
        headers=KEYS["ig"],
    )
    assert decided.status_code == 404 and decided.json()["error"]["code"] == "not_found"
    assert "987654" in decided.json()["error"]["message"]
    # an id past BIGINT is a 422 naming the field, not a server error (schemathesis found it)
    huge = httpx.get(f"{api_url}/v1/match/candidates/{2**64}", headers=KEYS["ig"])
    assert huge.status_code == 422 and huge.json()["error"]["problems"][0]["field"] == "path.seq"


def test_a_status_no_pair_can_have_is_refused_not_an_empty_list(api_url: str) -> None:
    for status in ("open", "not_sure", "accepted", "rejected", "superseded"):
        listed = httpx.get(
            f"{api_url}/v1/match/candidates", params={"status": status}, headers=KEYS["ig"]
        )
        assert listed.status_code == 200 and listed.json() == [], status
    typo = httpx.get(
        f"{api_url}/v1/match/candidates", params={"status": "accpted"}, headers=KEYS["ig"]
    )
    assert typo.status_code == 422, typo.text
    (problem,) = typo.json()["error"]["problems"]
    assert problem["field"] == "query.status" and "'accepted'" in problem["message"]


def test_docs_and_redoc_load_from_the_hub_not_a_cdn(api_url: str) -> None:
    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{api_url}{page}").text
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
        assert assets, html
        for asset in assets:
            assert asset.startswith("/docs-static/"), asset  # nothing from the internet
            assert httpx.get(f"{api_url}{asset}").status_code == 200
