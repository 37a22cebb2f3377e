"""The README's examples work as written, and it documents every setting."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from hub.broker.embedded import free_port
from hub.settings import REPO_ROOT, HubSettings
from tests.conftest import WIDE_WINDOW_DAYS
from tests.e2e.conftest import RunningHub, start_hub

README = (REPO_ROOT / "README.md").read_text()


def shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, flags=re.S)


def hub_blocks() -> list[str]:
    """Every block made only of `.venv/bin/hub ...` and `curl ...` lines (but `hub up`)."""
    return [
        b
        for b in shell_blocks()
        if "hub up" not in b
        and all(
            line.startswith((".venv/bin/hub ", "curl ", "  -")) for line in b.strip().splitlines()
        )
        and any(line.startswith(".venv/bin/hub ") for line in b.splitlines())
    ]


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """One hub for the read-mostly blocks below: starting one per block would cost more than
    the blocks themselves."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_DATA_DIR": str(tmp_path_factory.mktemp("readme") / "data"),
            "HUB_API_PORT": str(free_port()),
            "HUB_EFFECTIVE_DATE_PAST_DAYS": str(WIDE_WINDOW_DAYS),
        }
    )
    hub = start_hub(env)
    yield hub
    hub.proc.send_signal(signal.SIGINT)
    try:
        hub.proc.wait(30)
    except subprocess.TimeoutExpired:
        hub.proc.kill()


def test_every_setting_is_in_the_readme_table() -> None:
    for name in HubSettings.model_fields:
        assert f"| `HUB_{name.upper()}` |" in README, f"HUB_{name.upper()} missing from the README"


def test_the_two_commands_are_make_demo_and_make_test() -> None:
    first = shell_blocks()[0]
    assert "make demo" in first and "make test" in first


def test_curl_examples_work_as_written(running_hub: RunningHub) -> None:
    port = running_hub.url.rsplit(":", 1)[1]
    curls = [
        b
        for b in shell_blocks()
        if b.lstrip().startswith(("curl", "for ")) and "127.0.0.1:8080/v1/" in b
    ]
    assert len(curls) == 6
    outputs = []
    for block in curls:
        command = block.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        reads_inbox = "/v1/inbox" in block and "ack" not in block
        deadline = time.monotonic() + 60
        while True:
            result = subprocess.run(
                ["bash", "-c", command], capture_output=True, text=True, timeout=30
            )
            assert result.returncode == 0, result.stderr
            out = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
            # the worker delivers the move and the death published above in its own time
            if not reads_inbox or len(out[0]["items"]) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        outputs.append(out)
    links = outputs.pop(0)
    assert [link["status"] for link in links] == ["accepted"] * 3
    move, death, invalid, inbox, ack = (out[0] for out in outputs)
    assert move["status"] == "accepted" and death["status"] == "accepted"
    assert invalid["error"]["code"] == "event_invalid"
    assert {p["field"] for p in invalid["error"]["problems"]} >= {
        "data.previous_address",
        "data.new_address",
    }
    assert inbox["recipient"] == "parking"
    assert {i["type"] for i in inbox["items"]} == {"address.changed", "death.notified"}
    moved = next(i for i in inbox["items"] if i["type"] == "address.changed")
    assert moved["data"] == {
        "effective_date": "2026-11-20",
        "new_address": {"postcode": "EX4 7QT", "uprn": "100023412345"},
    }
    assert moved["local_id"] == "PRK-20931"  # Parking's own record, linked in the first block
    assert ack == {"acknowledged": 2}


def test_the_readme_has_hub_blocks() -> None:
    assert len(hub_blocks()) >= 3  # audit list, quality, schemas check


@pytest.mark.parametrize("block", hub_blocks(), ids=lambda b: b.split("\n")[0][len(".venv/bin/") :])
def test_hub_and_curl_blocks_run_as_written(shared_hub: RunningHub, block: str) -> None:
    port = shared_hub.url.rsplit(":", 1)[1]
    command = block.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace(
        ".venv/bin/hub", f"{sys.executable} -m cli"
    )
    result = subprocess.run(
        ["bash", "-e", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        env=shared_hub.env,
    )
    assert result.returncode == 0, f"{block}\n{result.stderr}"


def test_the_explain_block_runs_as_written(running_hub: RunningHub) -> None:
    """The README's `hub agreements explain` block (a heredoc, then the CLI) works against a running hub."""
    [block] = [b for b in shell_blocks() if "hub agreements explain" in b]
    command = block.replace(".venv/bin/hub", f"{sys.executable} -m cli")
    result = subprocess.run(
        ["bash", "-e", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        env=running_hub.env,
    )
    assert result.returncode == 0, result.stderr
    assert "What the hub would do" in result.stdout
    explained = json.loads(result.stdout[result.stdout.index("{") :])
    [parking] = explained["recipients"]
    assert parking["recipient"] == "parking"
    # nobody linked P-100234 in this hub: the README says the event would wait for review
    assert [r["code"] for r in parking["reasons"]] == ["subject_unresolved"]
