"""`hub init`, `hub run api` and `hub run worker` against a Kafka that requires TLS + SASL, set up with
HUB_* environment variables only, as a deployment does; a source posts, a recipient reads."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRETS_ENV, SecureBroker
from tests.e2e.conftest import RunningHub, hub_cmd, run_hub
from tests.e2e.test_hub_up import MOVE, wait_inbox
from tests.people import post_links


def start(args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(hub_cmd(args), env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def secure_hub(
    secure_broker: SecureBroker, hub_env: dict[str, str], tmp_path: Path
) -> Iterator[RunningHub]:
    worker_env = {**hub_env, **TEST_SECRETS_ENV, **secure_broker.env("hub-worker")}
    api_env = {**hub_env, **TEST_SECRETS_ENV, **secure_broker.env("hub-api")}
    init = run_hub("init", env=worker_env)
    assert init.returncode == 0, init.stdout + init.stderr
    worker = start("worker", worker_env, tmp_path / "worker.log")
    api = start("api", api_env, tmp_path / "api.log")
    try:
        url = f"http://127.0.0.1:{hub_env['HUB_API_PORT']}"
        deadline = time.monotonic() + 90
        while (
            True
        ):  # ready: the broker answers the API over TLS+SASL, and a worker holds partitions
            for proc, log in ((api, "api.log"), (worker, "worker.log")):
                assert proc.poll() is None, (tmp_path / log).read_text()[-3000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.2)
        yield RunningHub(api, url, api_env, [worker.pid])  # type: ignore[arg-type]
    finally:
        stop(api)
        stop(worker)


def test_an_event_reaches_the_inbox_over_tls_and_sasl(secure_hub: RunningHub) -> None:
    hub = secure_hub
    assert "HUB_KAFKA_SASL_PASSWORD" in hub.env  # nothing else tells the processes how to connect
    post_links(hub.url, "P-100234")
    accepted = httpx.post(f"{hub.url}/v1/events", json=MOVE, headers=hub.key("council-tax"))
    assert accepted.status_code == 202, accepted.text
    parking = wait_inbox(hub, "parking", 1, timeout=60)
    assert parking[0]["event_id"] == accepted.json()["id"]
    assert parking[0]["data"]["new_address"]["postcode"] == "EX4 7QT"


def test_hub_init_with_a_wrong_password_says_so(
    secure_broker: SecureBroker, hub_env: dict[str, str]
) -> None:
    env = {
        **hub_env,
        **TEST_SECRETS_ENV,
        **secure_broker.env("hub-worker"),
        "HUB_KAFKA_SASL_PASSWORD": "guess",
    }
    started = time.monotonic()
    result = run_hub("init", env=env, timeout=60)
    assert result.returncode == 2
    assert "refused the SASL credentials" in result.stderr
    assert "HUB_KAFKA_SASL_PASSWORD" in result.stderr
    assert "guess" not in result.stderr
    assert time.monotonic() - started < 45


def test_hub_init_without_a_password_names_the_variable(
    secure_broker: SecureBroker, hub_env: dict[str, str]
) -> None:
    env = {**hub_env, **TEST_SECRETS_ENV, **secure_broker.env("hub-worker")}
    del env["HUB_KAFKA_SASL_PASSWORD"]
    result = run_hub("init", env=env, timeout=60)
    assert result.returncode == 2
    assert "HUB_KAFKA_SASL_PASSWORD" in result.stderr


def test_kafka_acls_command_as_documented(hub_env: dict[str, str]) -> None:
    result = run_hub(
        "kafka",
        "acls",
        "--principal-api",
        "User:hub-api",
        "--principal-worker",
        "User:hub-worker",
        "--principal-connector",
        "User:hub-connector",
        "--principal-recipient",
        "User:recipient-{recipient}",
        "--bootstrap",
        "b-1.kafka.example:9096",
        "--command-config",
        "admin.properties",
        env=hub_env,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == ["#!/bin/sh", lines[1], "set -e"]
    commands = lines[3:]
    assert commands and all(
        c.startswith(
            "kafka-acls.sh --bootstrap-server b-1.kafka.example:9096 "
            "--command-config admin.properties --add --allow-principal User:"
        )
        for c in commands
    )
    assert any("User:hub-worker" in c and "--topic audit " in c for c in commands)
