"""Database engines (SQLite by default, PostgreSQL by URL), migrations and idempotent inserts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (the driver the hub ships with)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, busy_timeout_s: float = 30.0) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": busy_timeout_s}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (no-op when it is already there)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def insert_ignoring_duplicates(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], unique: str | tuple[str, ...]
) -> int:
    """One batched INSERT; rows whose `unique` key already exists are skipped. Returns inserted."""
    return len(inserted_keys(conn, table, rows, unique))


def inserted_keys(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], unique: str | tuple[str, ...]
) -> list[Any]:
    """`insert_ignoring_duplicates`, returning the first key column of the rows really inserted."""
    if not rows:
        return []
    key = [unique] if isinstance(unique, str) else list(unique)
    dialect = conn.dialect.name
    if dialect == "sqlite":
        stmt: Any = sqlite.insert(table).on_conflict_do_nothing(index_elements=key)
    elif dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=key)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise ValueError(f"unsupported database dialect {dialect}")
    # RETURNING tells what was really inserted (executemany rowcount is -1 on some drivers).
    result = conn.execute(stmt.returning(table.c[key[0]]), list(rows))
    return [r[0] for r in result.all()]


def upsert_newer(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    unique: tuple[str, ...],
    newer_than: str,
) -> None:
    """Insert rows; where `unique` exists, overwrite only if the row's `newer_than` is not older.

    Redelivered or out-of-order older facts never overwrite newer ones.
    """
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        ins: Any = sqlite.insert(table)
    elif dialect == "postgresql":
        ins = postgresql.insert(table)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise ValueError(f"unsupported database dialect {dialect}")
    updated = {c: ins.excluded[c] for c in rows[0] if c not in unique}
    stmt = ins.on_conflict_do_update(
        index_elements=list(unique),
        set_=updated,
        where=table.c[newer_than] <= ins.excluded[newer_than],
    )
    conn.execute(stmt, list(rows))
