"""`hub bench audit` as the platform team runs it: the writer on SQLite and on PostgreSQL, each
beside its raw-insert baseline from the same run, and a clear refusal of an unknown database;
and every benchmark refusing a run of no events, rows or recipients, or a database URL it
cannot use."""

from __future__ import annotations

import re

import pytest
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


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("flow", "--recipients", "1,a,0"), "--recipients: 'a', '0': give whole numbers of at"),
        (("flow", "--workers", "0"), "--workers: '0': give whole numbers of at least 1"),
        (("webhooks", "--recipients", ","), "--recipients: nothing: give whole numbers of at"),
        (("audit", "--rows", "0"), "'--rows': 0 is not in the range x>=1"),
        (("import", "--rows", "0"), "'--rows': 0 is not in the range x>=1"),
        (("match", "--people", "0"), "'--people': 0 is not in the range x>=1"),
        (("flow", "--rate", "-5"), "'--rate': -5 is not in the range x>=0"),
        (("audit", "--database-url", "pg://h/db"), "'--database-url': expected sqlite:///"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else "",
)
def test_counts_that_cannot_be_measured_are_refused_in_the_options_terms(
    args: tuple[str, ...], said: str
) -> None:
    """A width or a count of 0, or not a number, or a database URL the hub cannot use, is
    refused before anything starts: it was a ValueError or a ZeroDivisionError traceback, a
    stack started for K=0, or the data directory's SQLite file named as the one failing."""
    done = run_hub("bench", *args)
    assert done.returncode == 2, done.stdout
    err = " ".join(done.stderr.replace("│", " ").split())
    assert said in err, err
    assert "Traceback" not in done.stderr
