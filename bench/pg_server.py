"""A throw-away PostgreSQL server on loopback (Debian's package) that a benchmark or a test starts,
stops (as an outage looks) and removes."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import make_url, text

from hub.broker.embedded import free_port
from hub.db.engine import make_engine
from hub.errors import StackError


def pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PgServer:
    """initdb once; `start()`/`stop()` as often as a test needs (same port, same data)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="hub-pg-"))
        self.port = free_port()
        self._run_as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the server as Debian's postgres user
            shutil.chown(self.root, "postgres", "postgres")
            self._run_as = ["runuser", "-u", "postgres", "--"]
        self._pg("initdb", "-D", str(self.root / "db"), "-U", "hub", "--auth=trust", "-E", "UTF8")
        self.start()
        self._pg("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "hub", "hub")

    @property
    def url(self) -> str:
        return f"postgresql://hub@127.0.0.1:{self.port}/hub"

    def _pg(self, tool: str, *args: str, check: bool = True) -> None:
        subprocess.run(
            [*self._run_as, str(self.bindir / tool), *args], check=check, capture_output=True
        )

    def start(self, timeout: float = 30) -> None:
        self._pg(
            "pg_ctl",
            "-D",
            str(self.root / "db"),
            "-l",
            str(self.root / "log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        deadline = time.monotonic() + timeout
        while subprocess.run(
            [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
        ).returncode:
            if time.monotonic() > deadline:
                raise StackError(f"PostgreSQL did not start: see {self.root / 'log'}")
            time.sleep(0.2)

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (`immediate`: as a crash or an outage looks to its clients)."""
        self._pg("pg_ctl", "-D", str(self.root / "db"), "-m", mode, "stop", check=False)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start_pg_server() -> PgServer:
    """A new server from Debian's binaries, or a StackError saying how to get them."""
    bindir = pg_bindir()
    if bindir is None:
        raise StackError(
            "no PostgreSQL server binaries (apt-get install postgresql); "
            "or give --database-url postgresql://..."
        )
    return PgServer(bindir)


@contextmanager
def postgres_server(url: str | None) -> Iterator[str]:
    """The PostgreSQL server a benchmark runs on: `url` (the user's) as it is, or else a
    throw-away local one, removed at the end."""
    if url:
        yield url
        return
    server = start_pg_server()
    try:
        yield server.url
    finally:
        server.remove()


@contextmanager
def fresh_database(admin_url: str, name: str) -> Iterator[str]:
    """A new empty PostgreSQL database next to `admin_url`'s (its URL), dropped at the end: a
    benchmark leaves nothing on a server the user named."""
    engine = make_engine(admin_url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield str(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
