"""Every SQLite connection the hub opens: write-ahead log, NORMAL sync, a 40 MB log between
checkpoints (a flow batch dirties about 4 MB: at SQLite's default every commit checkpointed)."""

from __future__ import annotations

from pathlib import Path

from hub.db.engine import SQLITE_WAL_AUTOCHECKPOINT_PAGES, make_engine


def test_each_connection_logs_ahead_and_checkpoints_every_40_mb(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}", busy_timeout_s=7)
    try:
        with engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "wal_autocheckpoint", "busy_timeout")
            }
    finally:
        engine.dispose()
    assert SQLITE_WAL_AUTOCHECKPOINT_PAGES == 10_000
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL
        "wal_autocheckpoint": 10_000,
        "busy_timeout": 7_000,
    }
