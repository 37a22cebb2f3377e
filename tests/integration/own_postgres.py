"""A PostgreSQL server a test may stop and start (the session-wide `postgres_url` must not be)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from hub.broker.embedded import free_port
from tests.conftest import _pg_bin


class OwnPostgres:
    def __init__(self) -> None:
        bindir = _pg_bin()
        assert bindir is not None, "PostgreSQL server binaries not installed"
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="hub-own-pg-"))
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self._run("initdb", "-D", str(self.root / "db"), "-U", "hub", "--auth=trust", "-E", "UTF8")
        self.start()
        subprocess.run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "hub", "hub"],
            check=True,
            capture_output=True,
        )

    @property
    def url(self) -> str:
        return f"postgresql://hub@127.0.0.1:{self.port}/hub"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.run_as, str(self.bindir / tool), *args], check=True, capture_output=True
        )

    def _ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.root / "db"), *args)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-l", str(self.root / "log"), "-w", "-o", options, "start")
        deadline = time.monotonic() + 30
        while subprocess.run(
            [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
        ).returncode:
            assert time.monotonic() < deadline, "PostgreSQL did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        """As a crash or a failover does: connections cut at once."""
        self._ctl("-m", "immediate", "-w", "stop")

    def close(self) -> None:
        subprocess.run(
            [
                *self.run_as,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "db"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)
