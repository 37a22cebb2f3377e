"""`hub up` with HUB_WORKERS=2 on the embedded default (SQLite): two worker processes, each
with its log and metrics port, ready before `hub up` says it is up; every update delivered
once while one of them is killed and restarted; Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import httpx

from tests.e2e.conftest import children_of, start_hub, wait_children_gone
from tests.e2e.test_hub_up_supervision import publish, wait_output
from tests.people import post_links
from tests.waiting import wait_for

PEOPLE = [f"P-{300100 + i}" for i in range(6)]  # keys spread over the partitions


def two_free_ports() -> int:
    """A port p with p and p + 1 both free (worker 1 and worker 2's metrics)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
            if port >= 65535:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise AssertionError("no two consecutive free ports")


def worker_pids(hub_pid: int) -> list[int]:
    return [
        p
        for p in children_of(hub_pid)
        if b"runtime.process\x00worker" in Path(f"/proc/{p}/cmdline").read_bytes()
    ]


def metrics_up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def delivered(url: str, recipient: str) -> list[str]:
    """Every event id in `recipient`'s inbox, read page by page as a receiving system does."""
    ids: list[str] = []
    after = 0
    while True:
        page = httpx.get(
            f"{url}/v1/inbox",
            params={"after": after, "limit": 100},
            headers={"Authorization": f"Bearer demo-{recipient}-key"},
        ).json()
        ids += [item["event_id"] for item in page["items"]]
        if not page["items"]:
            return ids
        after = page["next_cursor"]


def wait_delivered(url: str, recipient: str, want: set[str], timeout: float = 90) -> list[str]:
    ids: list[str] = []

    def all_there() -> bool:
        nonlocal ids
        ids = delivered(url, recipient)
        return set(ids) >= want

    wait_for(all_there, lambda: f"{recipient}: {len(set(ids))} of {len(want)}", timeout, every=0.3)
    return ids


def test_hub_up_runs_two_workers_and_restarts_one_that_is_killed(
    hub_env: dict[str, str], tmp_path: Path
) -> None:
    port = two_free_ports()
    env = {
        **hub_env,
        "HUB_WORKERS": "2",
        "HUB_WORKER_METRICS_PORT": str(port),
        "HUB_RETRY_BACKOFF_INITIAL_S": "0.2",
        "HUB_RETRY_BACKOFF_MAX_S": "1",
    }
    out_path = tmp_path / "hub-up.out"
    with open(out_path, "w") as out:
        hub = start_hub(env, out.fileno())
    try:
        wait_output(out_path, "2 workers")  # said once both workers hold partitions
        # /readyz reports what its background check last read (every second): poll it
        ready = wait_for(
            lambda: (w := httpx.get(f"{hub.url}/readyz").json()["workers"])["assigned"] == 2 and w,
            "both workers assigned on /readyz",
            30,
            every=0.5,
        )
        assert ready["live"] == 2, ready
        assert len(worker_pids(hub.proc.pid)) == 2
        logs = Path(env["HUB_DATA_DIR"]) / "logs"
        for name in ("worker.log", "worker-2.log"):
            assert "partitions_assigned" in (logs / name).read_text(), name
        assert metrics_up(port) and metrics_up(port + 1)

        for person in PEOPLE:
            post_links(hub.url, person)
        first = {f"move-a{i}" for i in range(12)}
        for i, event_id in enumerate(sorted(first)):
            publish(hub.url, event_id, person=PEOPLE[i % len(PEOPLE)])
        wait_delivered(hub.url, "waste", first)

        second = max(worker_pids(hub.proc.pid))  # the later-started: worker-2
        os.kill(second, signal.SIGKILL)
        then = {f"move-b{i}" for i in range(12)}
        for i, event_id in enumerate(sorted(then)):
            publish(hub.url, event_id, person=PEOPLE[i % len(PEOPLE)])
        wait_output(out_path, "Restarted the worker-2 process")
        ids = wait_delivered(hub.url, "waste", first | then)
        assert sorted(ids) == sorted(first | then), "an update delivered twice or one too many"
        assert hub.proc.poll() is None

        children = children_of(hub.proc.pid)
        os.killpg(hub.proc.pid, signal.SIGINT)
        assert hub.proc.wait(60) == 0
        wait_children_gone(children)
    finally:
        if hub.proc.poll() is None:
            os.killpg(hub.proc.pid, signal.SIGKILL)
            hub.proc.wait()
