"""`hub bench audit` as the platform team runs it: the writer on SQLite and on PostgreSQL, each
beside its raw-insert baseline from the same run, and a clear refusal of an unknown database;
and `hub bench flow` refusing a run of no events."""

from __future__ import annotations

import re

from sqlalchemy import text

from hub.db.engine import make_engine
from tests.e2e.conftest import run_hub


def test_the_audit_bench_times_the_writer_on_sqlite_and_postgresql(postgres_url: str) -> None:
    done = run_hub(
        "bench", "audit", "--rows", "3000", "--batch", "1000", "--database-url", postgres_url
    )
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    for where, how in (("SQLite", "executemany"), ("PostgreSQL", "COPY")):
        line = re.search(
            rf"writer on {where}: 3,000 rows = ([\d,]+) rows/s .*?\({how}, .*?"
            r"writer/raw = (\d+\.\d\d)",
            out,
        )
        assert line, out
        assert int(line.group(1).replace(",", "")) > 0 and float(line.group(2)) > 0
    assert "verify: 3,000 rows" in out
    engine = make_engine(postgres_url)  # the databases it made on the user's server are gone
    with engine.connect() as conn:
        left = conn.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE 'bench_audit%'")
        ).all()
    engine.dispose()
    assert left == []


def test_an_unknown_database_is_refused_in_the_options_terms() -> None:
    done = run_hub("bench", "audit", "--rows", "10", "--databases", "sqlite,mysql")
    assert done.returncode == 2
    err = " ".join(done.stderr.replace("│", " ").split())
    assert "--databases" in err and "mysql: give sqlite, postgresql or both" in err
    assert "Traceback" not in done.stderr


def test_a_flow_run_of_no_events_is_refused_in_the_options_terms() -> None:
    """Not a stack started to print 0 of 0/s: the option and its bound, before anything runs."""
    done = run_hub("bench", "flow", "--events", "0")
    assert done.returncode == 2
    err = " ".join(done.stderr.replace("│", " ").split())
    assert "--events" in err and "x>=1" in err
    assert "Traceback" not in done.stderr
