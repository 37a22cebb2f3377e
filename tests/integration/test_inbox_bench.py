"""`hub bench inbox` runs (a smoke test with a few hundred deliveries, no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bench.inbox import BENCH_TABLES, WRITERS, inbox_bench
from hub.db.engine import make_engine


def test_the_reader_reads_the_backlog_and_every_concurrent_write_then_the_rows_go(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    result = inbox_bench(url, deliveries=300)
    assert result.dialect == "sqlite"
    assert [r.reader for r in result.runs] == ["inbox (fetch + ack)", "plain SELECT"]
    for run in result.runs:
        assert run.written == 300 // WRITERS * WRITERS
        assert run.read == 300 + run.written
        assert run.write_rate > 0 and run.read_rate > 0
    engine = make_engine(url)
    with engine.connect() as conn:
        for t in BENCH_TABLES:
            assert conn.execute(select(func.count()).select_from(t)).scalar_one() == 0
    engine.dispose()
