"""A console for people, logs for machines: on a terminal `hub up` and `hub connectors import`
print only what is written for people (no JSON log lines), and the log files hold JSON lines
without terminal escape codes."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import time
from pathlib import Path

from tests.e2e.conftest import RunningHub, hub_cmd
from tests.e2e.test_connector_cli import issue_csv

JSON_LOG = b'"event":'  # every structlog line has it; nothing written for people does


def on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        argv, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    return proc, master


def read(master: int, proc: subprocess.Popen[bytes], until: bytes | None, timeout: float) -> bytes:
    """What the terminal showed (colours taken out), until `until` appears (None: until the process ends)."""
    out = bytearray()
    deadline = time.monotonic() + timeout
    while until is None or until not in out:
        assert time.monotonic() < deadline, f"waited {timeout}s; the terminal shows:\n{out!r}"
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the process closed the terminal
                chunk = b""
            if not chunk and proc.poll() is not None:
                break
            out += chunk
        elif until is None and proc.poll() is not None:
            break
    return re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", bytes(out))  # what a person reads


def test_hub_up_on_a_terminal_shows_no_json_and_its_logs_hold_no_escape_codes(
    hub_env: dict[str, str],
) -> None:
    proc, master = on_a_terminal(hub_cmd("up"), hub_env)
    try:
        banner = read(master, proc, b"to stop.", timeout=120)
        assert JSON_LOG not in banner, banner
        os.killpg(proc.pid, signal.SIGINT)
        rest = read(master, proc, None, timeout=60)
        assert b"Stopped." in rest and JSON_LOG not in rest, rest
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(master)
    logs = Path(hub_env["HUB_DATA_DIR"]) / "logs"
    for log in logs.glob("*.log"):
        assert b"\x1b" not in log.read_bytes(), f"{log.name} holds terminal escape codes"
    assert b'"event": "stack_ready"' in (logs / "hub.log").read_bytes()  # the logs went here


def test_import_on_a_terminal_shows_progress_and_outcome_without_json(
    running_hub: RunningHub, tmp_path: Path
) -> None:
    moves = tmp_path / "moves.csv"
    moves.write_bytes(issue_csv())
    argv = hub_cmd("connectors", "import", str(moves), "--source", "council-tax")
    proc, master = on_a_terminal(argv, running_hub.env)
    try:
        first = read(master, proc, None, timeout=120)
    finally:
        os.close(master)
    assert proc.wait(30) == 1  # some rows were rejected
    assert b"8 rows: 3 published, 4 rejected" in first and JSON_LOG not in first, first

    proc, master = on_a_terminal(argv, running_hub.env)
    try:
        again = read(master, proc, None, timeout=120)
    finally:
        os.close(master)
    assert proc.wait(30) == 0
    assert b"nothing published again" in again and JSON_LOG not in again, again
    assert b"published," not in again  # not the earlier import's counts, as if new
