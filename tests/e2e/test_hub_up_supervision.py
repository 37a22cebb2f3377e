"""`hub up` keeps the stack running: a crashed worker or broker is restarted and said so; a taken
API port is refused at once, naming the port and the setting."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

from hub.events.envelope import Event
from tests.e2e.conftest import children_of, run_hub, start_hub, wait_children_gone
from tests.e2e.test_data_quality import publish_straight_to_kafka, rejected
from tests.e2e.test_hub_up import MOVE, wait_inbox
from tests.integration.test_flow import death
from tests.people import post_links
from tests.waiting import wait_for


def child(hub_pid: int, marker: bytes) -> int:
    [pid] = [p for p in children_of(hub_pid) if marker in Path(f"/proc/{p}/cmdline").read_bytes()]
    return pid


def wait_output(path: Path, text: str, timeout: float = 60) -> None:
    wait_for(
        lambda: text in path.read_text(),
        lambda: f"{text!r} not printed:\n{path.read_text()[-3000:]}",
        timeout,
    )


def publish(url: str, event_id: str, timeout: float = 60, person: str | None = None) -> None:
    """POST as a source system does (a move of `person`, else MOVE's): a 503 (broker
    restarting) is retried."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.post(
            f"{url}/v1/events",
            json={**MOVE, "id": event_id, **({"subject": person} if person else {})},
            headers={"Authorization": "Bearer demo-council-tax-key"},
            timeout=15,
        )
        if response.status_code == 202:
            return
        assert response.status_code == 503 and time.monotonic() < deadline, response.text
        time.sleep(0.5)


def future_death(event_id: str) -> Event:
    """A death dated in the future: rejected by the rules (`not_in_future`). One subject, so one
    partition: the same offset after a broker restart."""
    event = death(event_id)
    return event.model_copy(update={"data": {**event.data, "date_of_death": date(2062, 11, 18)}})


def test_hub_up_restarts_a_killed_worker_and_a_killed_broker(
    hub_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **hub_env,
        "HUB_RETRY_BACKOFF_INITIAL_S": "0.2",
        "HUB_RETRY_BACKOFF_MAX_S": "1",
        "HUB_RECONCILE_GRACE_S": "3",
        "HUB_RECONCILE_INTERVAL_S": "1",
    }
    out_path = tmp_path / "hub-up.out"
    with open(out_path, "w") as out:
        hub = start_hub(env, out.fileno())
    try:
        post_links(hub.url, "P-100234")
        publish(hub.url, "move-1")
        wait_inbox(hub, "waste", 1)

        worker = child(hub.proc.pid, b"worker")
        os.kill(worker, signal.SIGKILL)
        wait_output(out_path, "Restarted the worker process")
        assert hub.proc.poll() is None
        publish(hub.url, "move-2")
        assert {i["event_id"] for i in wait_inbox(hub, "waste", 2, timeout=60)} >= {"move-2"}

        # a source's own Kafka producer sends a bad record: rejected, listed
        publish_straight_to_kafka(hub, future_death("reg-bad-1"))
        assert [r["event_id"] for r in rejected(hub, 1)] == ["reg-bad-1"]

        broker = child(hub.proc.pid, b"--listener-url")
        os.kill(broker, signal.SIGKILL)
        wait_output(out_path, "Restarted the embedded broker")
        assert hub.proc.poll() is None
        publish(hub.url, "move-3")
        items = wait_inbox(hub, "waste", 3, timeout=90)
        assert {i["event_id"] for i in items} == {"move-1", "move-2", "move-3"}
        # the restarted broker's offsets begin again: another bad record where the first sat is
        # listed too, not taken for the first one redelivered
        publish_straight_to_kafka(hub, future_death("reg-bad-2"))
        assert sorted(r["event_id"] for r in rejected(hub, 2)) == ["reg-bad-1", "reg-bad-2"]
        assert "exited with code" in out_path.read_text()  # it said what happened

        # Ctrl-C still stops everything, quickly and cleanly
        children = children_of(hub.proc.pid)
        started = time.monotonic()
        os.killpg(hub.proc.pid, signal.SIGINT)
        assert hub.proc.wait(60) == 0
        assert time.monotonic() - started < 20, "shutdown took too long"
        wait_children_gone(children)
    finally:
        if hub.proc.poll() is None:
            os.killpg(hub.proc.pid, signal.SIGKILL)
            hub.proc.wait()


class _AlreadyAHub(BaseHTTPRequestHandler):
    """What answers on a port another `hub up` holds: 200 on /readyz."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"status": "ready"}')

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def taken_port() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _AlreadyAHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_hub_up_on_a_taken_port_fails_at_once_naming_it(
    hub_env: dict[str, str], taken_port: int
) -> None:
    env = {**hub_env, "HUB_API_PORT": str(taken_port)}
    started = time.monotonic()
    result = run_hub("up", env=env, timeout=60)
    assert result.returncode != 0
    assert time.monotonic() - started < 15  # no broker, worker or API was started first
    assert "is up" not in result.stdout
    message = " ".join(result.stderr.split())
    assert str(taken_port) in message and "HUB_API_PORT" in message
    assert not (Path(env["HUB_DATA_DIR"]) / "logs" / "worker.log").exists()
    with socket.create_connection(("127.0.0.1", taken_port), timeout=2):
        pass  # the other holder still has it


def test_hub_up_on_a_host_not_of_this_machine_names_hub_api_host(hub_env: dict[str, str]) -> None:
    """Not 'the port is taken by another hub up' (what it said): the host is the problem."""
    result = run_hub("up", env={**hub_env, "HUB_API_HOST": "999.1.1.1"}, timeout=60)
    message = " ".join(result.stderr.split())
    assert result.returncode != 0 and "is up" not in result.stdout
    assert "the API cannot listen on 999.1.1.1" in message and "HUB_API_HOST must be" in message
    assert "holds it" not in message and "Traceback" not in result.stderr
    assert not (Path(hub_env["HUB_DATA_DIR"]) / "logs" / "worker.log").exists()
