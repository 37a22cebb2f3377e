"""`GET /v1/inbox` and `POST /v1/inbox/ack` over HTTP on real SQLite and PostgreSQL: a recipient
acknowledges only what it was handed, and out-of-range cursors are a 422, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from connectors import pull_inbox
from hub.api.context import api_context
from hub.api.errors import install_error_handlers
from hub.config.loader import load_config
from hub.events.schemas import SchemaRegistry
from hub.inbox.store import InboxStore
from tests.integration.test_inbox_cursors import NOW, _delivery
from tests.unit.samples import CONFIG_DIR, SCHEMA_DIR

PARKING = {"Authorization": "Bearer demo-parking-key"}
TOO_BIG = 2**63


@pytest.fixture
def inbox(migrated_engine: Engine) -> InboxStore:
    return InboxStore(migrated_engine)


@pytest.fixture
def client(inbox: InboxStore) -> Iterator[TestClient]:
    config = load_config(CONFIG_DIR, SchemaRegistry.from_dir(SCHEMA_DIR))
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(pull_inbox.router)
    app.dependency_overrides[api_context] = lambda: SimpleNamespace(config=config, inbox=inbox)
    with TestClient(app) as c:
        yield c


def _ack(client: TestClient, up_to: object) -> tuple[int, dict[str, object]]:
    r = client.post("/v1/inbox/ack", json={"up_to": up_to}, headers=PARKING)
    return r.status_code, r.json()


def test_ack_beyond_what_was_handed_out_is_refused_and_acknowledges_nothing(
    client: TestClient, inbox: InboxStore
) -> None:
    inbox.add([_delivery(f"e{i}", "parking") for i in range(3)], NOW)
    # the README's old example: acknowledge "everything" before reading anything
    status, body = _ack(client, 1_000_000)
    assert status == 409
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == "ack_beyond_handed_out"
    assert "highest cursor handed out to 'parking' is 0" in error["message"]
    assert error["problems"] == [
        {"field": "up_to", "rule": "max_handed_out", "message": "at most 0"}
    ]
    assert inbox.pending("parking") == 3

    page = client.get("/v1/inbox?limit=2", headers=PARKING).json()
    assert len(page["items"]) == 2
    read = page["next_cursor"]
    status, body = _ack(client, read + 1)
    assert status == 409 and f"is {read}" in str(body)
    assert inbox.pending("parking") == 3

    assert _ack(client, read) == (200, {"acknowledged": 2})
    assert _ack(client, 0) == (200, {"acknowledged": 0})
    rest = client.get(f"/v1/inbox?after={read}", headers=PARKING).json()
    assert [i["cursor"] for i in rest["items"]] == [rest["next_cursor"]]
    assert _ack(client, rest["next_cursor"]) == (200, {"acknowledged": 1})
    assert inbox.pending("parking") == 0


def test_cursors_outside_the_64_bit_range_are_a_422(client: TestClient, inbox: InboxStore) -> None:
    inbox.add([_delivery("e1", "parking")], NOW)
    for after in (-1, TOO_BIG, 10**30):
        r = client.get(f"/v1/inbox?after={after}", headers=PARKING)
        assert r.status_code == 422, after
        assert r.json()["error"]["code"] == "invalid"
        assert [p["field"] for p in r.json()["error"]["problems"]] == ["query.after"]
    client.get("/v1/inbox", headers=PARKING)
    for up_to in (-1, TOO_BIG, 10**30):
        status, body = _ack(client, up_to)
        assert status == 422, up_to
        error = body["error"]
        assert isinstance(error, dict)
        assert [p["field"] for p in error["problems"]] == ["body.up_to"]
    assert inbox.pending("parking") == 1


def test_the_largest_cursor_is_accepted(client: TestClient, inbox: InboxStore) -> None:
    inbox.add([_delivery("e1", "parking")], NOW)
    # in range (not a 422), and never handed out (a 409, as for an acknowledgement)
    far = client.get(f"/v1/inbox?after={TOO_BIG - 1}", headers=PARKING)
    assert far.status_code == 409 and far.json()["error"]["code"] == "cursor_never_given"
    status, _ = _ack(client, TOO_BIG - 1)
    assert status == 409  # in range, but nothing that far was handed out
    assert inbox.pending("parking") == 1


def test_a_cursor_never_handed_out_is_refused_not_answered_with_an_empty_page(
    client: TestClient, inbox: InboxStore, migrated_engine: Engine
) -> None:
    """A reader holding a cursor the hub never gave it (from another hub, or from before the
    hub's database was restored from a backup) would read empty pages while the deliveries
    numbered up to its cursor passed beneath it, unread."""
    inbox.add([_delivery(f"e{i}", "parking") for i in range(3)], NOW)
    for wait in ("0", "5"):  # a long poll says so at once, too
        ahead = client.get(f"/v1/inbox?after=5000&wait={wait}", headers=PARKING)
        assert ahead.status_code == 409, ahead.text
        error = ahead.json()["error"]
        assert error["code"] == "cursor_never_given"
        assert error["problems"] == [
            {"field": "after", "rule": "max_handed_out", "message": "at most 0"}
        ]
        assert "highest cursor handed out to 'parking' is 0" in error["message"]
        assert "read once from after=0" in error["message"]
    page = client.get("/v1/inbox", headers=PARKING).json()
    assert len(page["items"]) == 3
    end = page["next_cursor"]
    assert client.get(f"/v1/inbox?after={end}", headers=PARKING).json()["items"] == []
    assert client.get(f"/v1/inbox?after={end + 1}", headers=PARKING).status_code == 409
    assert _ack(client, end) == (200, {"acknowledged": 3})

    # the database restored from a backup taken after the first delivery was read: the reader
    # holds cursor 3, the hub now knows of 1 handed out, and numbers new deliveries from there
    with migrated_engine.begin() as conn:
        conn.execute(text("UPDATE inbox_reader SET handed_out = 1"))
        conn.execute(text("UPDATE inbox_cursor SET last_cursor = 1"))
        conn.execute(text("DELETE FROM inbox_item WHERE cursor > 1"))
        conn.execute(text("UPDATE inbox_item SET acked_at = NULL"))
    inbox.add([_delivery("after-the-restore", "parking")], NOW)
    stale = client.get(f"/v1/inbox?after={end}", headers=PARKING)
    assert stale.status_code == 409 and "is 1" in stale.json()["error"]["message"]
    again = client.get("/v1/inbox", headers=PARKING).json()
    assert "after-the-restore" in [i["event_id"] for i in again["items"]]
