"""The README's examples work as written, and it documents every setting."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

from hub.settings import REPO_ROOT, HubSettings
from tests.e2e.conftest import RunningHub

README = (REPO_ROOT / "README.md").read_text()


def shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, flags=re.S)


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
        if "/v1/inbox" in block and "ack" not in block:
            time.sleep(1.5)  # let the worker deliver the events published above
        command = block.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        outputs.append([json.loads(line) for line in result.stdout.splitlines() if line.strip()])
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


def test_hub_and_curl_blocks_run_as_written(running_hub: RunningHub) -> None:
    """Every block made only of `.venv/bin/hub ...` and `curl ...` lines (but `hub up`) works."""
    port = running_hub.url.rsplit(":", 1)[1]
    blocks = [
        b
        for b in shell_blocks()
        if "hub up" not in b
        and all(
            line.startswith((".venv/bin/hub ", "curl ", "  -")) for line in b.strip().splitlines()
        )
        and any(line.startswith(".venv/bin/hub ") for line in b.splitlines())
    ]
    assert len(blocks) >= 3  # audit list, quality, schemas check
    for block in blocks:
        command = block.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace(
            ".venv/bin/hub", f"{sys.executable} -m runtime.cli"
        )
        result = subprocess.run(
            ["bash", "-e", "-c", command],
            capture_output=True,
            text=True,
            timeout=60,
            env=running_hub.env,
        )
        assert result.returncode == 0, f"{block}\n{result.stderr}"


def test_the_explain_block_runs_as_written(running_hub: RunningHub) -> None:
    """The README's `hub explain` block (a heredoc, then the CLI) works against a running hub."""
    [block] = [b for b in shell_blocks() if "hub explain" in b]
    command = block.replace(".venv/bin/hub", f"{sys.executable} -m runtime.cli")
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
