"""Migrations as an operator expects: one migrator at a time (PostgreSQL advisory lock, SQLite
file lock), `hub db ...`, and plain `alembic` from the repository."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, make_url, text

from hub.db.engine import current_revisions, make_engine, migrate, script_directory
from hub.settings import REPO_ROOT

MIGRATORS = 4


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database never migrated: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'hub.db'}"
        return
    server = make_url(request.getfixturevalue("postgres_url"))
    name = f"fresh_{secrets.token_hex(4)}"
    admin = make_engine(server.render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def concurrently(n: int, work: Callable[[], None]) -> list[BaseException]:
    """Run `work` in n threads released together; the exceptions they raised."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


def assert_one_schema_at_head(engine: Engine) -> None:
    head = script_directory().get_current_head()
    assert current_revisions(engine) == (head,)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    assert [v[0] for v in versions] == [head]
    tables = set(inspect(engine).get_table_names())
    assert {"audit_record", "inbox_item", "audit_checkpoint", "ingest_journal"} <= tables


def test_migrators_starting_together_take_turns(fresh_url: str) -> None:
    """Four migrators (each its own engine, so its own connections) on one fresh database."""

    def migrate_own_engine() -> None:
        engine = make_engine(fresh_url)
        try:
            migrate(engine)
        finally:
            engine.dispose()

    errors = concurrently(MIGRATORS, migrate_own_engine)
    assert errors == []
    engine = make_engine(fresh_url)
    assert_one_schema_at_head(engine)
    engine.dispose()


def _hub_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return {**env, "HUB_DATABASE_URL": url}


@pytest.mark.parametrize("fresh_url", ["postgres"], indirect=True)
def test_hub_db_processes_started_together_all_succeed(fresh_url: str) -> None:
    """`hub db upgrade` four times at once, as four processes: a rolling deploy's starts on
    PostgreSQL (both databases are covered by the threads above)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cli", "db", "upgrade"],
            env=_hub_env(fresh_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(MIGRATORS)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * MIGRATORS, outputs
    said = " ".join(out for out, _ in outputs)
    assert said.count("no schema (base) -> ") == 1  # one migrated; the others found it done
    assert said.count("nothing to do") == MIGRATORS - 1
    engine = make_engine(fresh_url)
    assert_one_schema_at_head(engine)
    engine.dispose()


def hub_db(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "db", *args],
        env=_hub_env(url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_hub_db_upgrade_current_history_downgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    head = script_directory().get_current_head()
    behind = hub_db(url, "current")
    assert behind.returncode == 1 and "run `hub db upgrade`" in behind.stdout
    assert hub_db(url, "upgrade", "0005").returncode == 0
    assert "0005: database" in hub_db(url, "current").stdout
    up = hub_db(url, "upgrade")
    assert up.returncode == 0 and f"0005 -> {head}" in up.stdout
    now = hub_db(url, "current")
    assert now.returncode == 0 and f"{head} (head)" in now.stdout and "up to date" in now.stdout
    history = hub_db(url, "history")
    assert history.returncode == 0
    assert "head, current" in " ".join(history.stdout.split())
    assert all(f"│ {rev}" in history.stdout for rev in ("0001", "0005", head))
    down = hub_db(url, "downgrade", "0006")
    assert down.returncode == 0 and f"{head} -> 0006" in down.stdout
    bad = hub_db(url, "downgrade", "nope")
    assert bad.returncode == 1
    assert "Can't locate revision identified by 'nope'" in " ".join(bad.stderr.split())
    assert "Traceback" not in bad.stderr


def alembic(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return subprocess.run(
        [str(Path(sys.executable).parent / "alembic"), *args],
        cwd=REPO_ROOT,
        env={**env, "HUB_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_plain_alembic_works_from_the_repository(tmp_path: Path) -> None:
    """alembic.ini at the root; env.py finds the hub's database through its settings."""
    head = script_directory().get_current_head()
    history = alembic(tmp_path, "history")
    assert history.returncode == 0, history.stderr
    assert f"-> {head} (head)" in history.stdout and "<base> -> 0001" in history.stdout
    assert alembic(tmp_path, "current").stdout.strip() == ""  # nothing migrated yet
    upgraded = alembic(tmp_path, "upgrade", "head")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "hub.db").exists()
    current = alembic(tmp_path, "current")
    assert current.returncode == 0 and current.stdout.strip() == f"{head} (head)"
