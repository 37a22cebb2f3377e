"""`hub keys new|list|revoke`: a key made on the command line works, is listed (never shown
again), and once revoked its calls get 401, for a stored key and for a systems.yaml one."""

from __future__ import annotations

import json

import httpx

from tests.e2e.conftest import RunningHub, run_hub
from tests.waiting import wait_for


def wait_for_status(client: httpx.Client, headers: dict[str, str], status: int) -> None:
    wait_for(  # the API caches a key lookup for a few seconds
        lambda: client.get("/v1/audit/withheld", headers=headers).status_code == status,
        f"the answer {status}",
        30,
        every=0.2,
    )


def test_a_revoked_key_gets_401(running_hub: RunningHub) -> None:
    hub = running_hub
    made = run_hub("keys", "new", "ig-bob", "--role", "ig", "--name", "Bob (IG)", env=hub.env)
    assert made.returncode == 0, made.stderr
    key = made.stdout.split()[-1]
    bob = {"Authorization": f"Bearer {key}"}
    listed = run_hub("keys", "list", "--json", env=hub.env)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    mine = [r for r in rows if r["system"] == "ig-bob"]
    assert len(mine) == 1 and mine[0]["roles"] == ["ig"] and mine[0]["revoked"] is None
    assert key not in listed.stdout
    assert any(r["system"] == "registrar" and r["kept_in"] == "systems.yaml" for r in rows)

    with httpx.Client(base_url=hub.url, timeout=10) as client:
        wait_for_status(client, bob, 200)
        revoked = run_hub("keys", "revoke", "ig-bob", env=hub.env)
        assert revoked.returncode == 0, revoked.stderr
        wait_for_status(client, bob, 401)
        unknown = run_hub("keys", "revoke", "nobody", env=hub.env)
        assert unknown.returncode == 2 and "no system 'nobody'" in unknown.stderr
    after = [
        json.loads(line)
        for line in run_hub("keys", "list", "--json", env=hub.env).stdout.splitlines()
    ]
    assert next(r for r in after if r["system"] == "ig-bob")["revoked"] is not None
