"""Drive the hub as a user does: the `hub` CLI as a subprocess, the API over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hub.broker.embedded import free_port
from tests.conftest import WIDE_WINDOW_DAYS
from tests.waiting import wait_for


def hub_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


def run_hub(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        hub_cmd(*args), env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_children_gone(children: list[int], timeout: float = 10) -> None:
    """Every process the hub started has exited: none is left behind."""
    wait_for(
        lambda: not any(alive(pid) for pid in children),
        lambda: f"child processes left behind: {[p for p in children if alive(p)]}",
        timeout,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class RunningHub:
    proc: subprocess.Popen[str]
    url: str
    env: dict[str, str]
    children: list[int]

    def key(self, system: str) -> dict[str, str]:
        return {"Authorization": f"Bearer demo-{system}-key"}


@pytest.fixture
def hub_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_DATA_DIR": str(tmp_path / "data"),
            "HUB_API_PORT": str(free_port()),
            # the examples carry fixed dates; the window itself is unit-tested with a fixed clock
            "HUB_EFFECTIVE_DATE_PAST_DAYS": str(WIDE_WINDOW_DAYS),
        }
    )
    return env


# One client for the tests' looks at a stack: each new httpx client reads the CA bundle (~45 ms
# of CPU), and a start is looked at every 0.2 s. Clients are thread-safe.
LOOPBACK = httpx.Client(timeout=2)


def stack_ready(url: str) -> bool:
    """The API is ready (/readyz) and, reported there as information, a worker's agents hold
    partitions: readiness itself does not wait for a worker, the tests' flows do."""
    response = LOOPBACK.get(f"{url}/readyz")
    return response.status_code == 200 and (response.json()["workers"]["assigned"] or 0) > 0


def start_hub(env: dict[str, str], output: int | None = subprocess.PIPE) -> RunningHub:
    """`hub up` as a terminal runs it: its own process group (Ctrl-C signals the whole group);
    returns once /readyz says ready and a worker holds partitions."""
    proc = subprocess.Popen(
        hub_cmd("up"),
        env=env,
        stdout=output,
        stderr=output,
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{env['HUB_API_PORT']}"
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, f"hub up exited: {proc.communicate()}"
        try:
            if stack_ready(url):
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "hub up not ready in 90s"
        time.sleep(0.2)
    return RunningHub(proc, url, env, children_of(proc.pid))


@pytest.fixture
def running_hub(hub_env: dict[str, str]) -> Iterator[RunningHub]:
    hub = start_hub(hub_env)
    proc = hub.proc
    yield hub
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
