"""Database engines (SQLite by default, PostgreSQL by URL), migrations and idempotent inserts."""

from __future__ import annotations

import fcntl
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Select, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from hub.errors import HubError
from hub.timeutil import utc_text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (the driver the hub ships with)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# Pages the write-ahead log may hold before a commit copies them into the database (SQLite's
# default is 1,000: 4 MB). A batch of the flow or the audit writer dirties about that much, so
# every commit paid a checkpoint (two fsyncs, and hot index pages copied again each time). At
# 10,000 (a log of up to 40 MB) an inbox hand-over takes 174 instead of 210 us an event at K=5,
# and the audit writer 28.6k instead of 26k rows/s (docs/performance.md).
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000


def make_engine(url: str, busy_timeout_s: float = 30.0, create_dirs: bool = True) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if create_dirs and path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": busy_timeout_s}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


# pg_advisory_xact_lock key of the one migrator (any fixed 64-bit number; this is b"tio-migr")
MIGRATION_LOCK_KEY = 0x74696F2D6D696772


def sqlite_path(engine: Engine) -> Path | None:
    """The database file of a SQLite engine (None: in memory, or not SQLite)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    return Path(database).resolve() if database and database != ":memory:" else None


@contextmanager
def migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the migration lock: one migrator at a time.

    PostgreSQL: `pg_advisory_xact_lock` on a fixed key, taken in the migration's own
    transaction (released by its commit or rollback, or when a killed migrator's connection
    drops; nothing to unlock). SQLite: an exclusive `flock` on `<database file>.migrate-lock`,
    held until the migration's transaction has committed (released by the kernel if the
    process dies).
    """
    path = sqlite_path(engine)
    if path is None:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            yield conn
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".migrate-lock"), "a") as lock_file:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        try:
            with engine.begin() as conn:
                yield conn
        finally:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


def alembic_config(conn: Connection | None = None) -> Config:
    """Alembic's configuration for the hub's migrations, run on `conn` when given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


Revisions = tuple[str, ...]


def migrate(engine: Engine, revision: str = "head") -> tuple[Revisions, Revisions]:
    """Bring the schema to `revision` (the newest by default; no-op when it is already there),
    under the migration lock, so processes starting together migrate one after another.
    Returns the revisions before and after, as this migrator found and left them."""
    with migration_lock(engine) as conn:
        before = tuple(MigrationContext.configure(conn).get_current_heads())
        command.upgrade(alembic_config(conn), revision)
        return before, tuple(MigrationContext.configure(conn).get_current_heads())


def downgrade(engine: Engine, revision: str) -> tuple[Revisions, Revisions]:
    """Take the schema back to `revision` (under the migration lock); revisions before, after."""
    with migration_lock(engine) as conn:
        before = tuple(MigrationContext.configure(conn).get_current_heads())
        command.downgrade(alembic_config(conn), revision)
        return before, tuple(MigrationContext.configure(conn).get_current_heads())


def current_revisions(engine: Engine) -> tuple[str, ...]:
    """The revisions the database is at (empty: never migrated)."""
    with engine.connect() as conn:
        return tuple(MigrationContext.configure(conn).get_current_heads())


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


class DatabaseNotReady(HubError):
    """A reader was pointed at no hub database: missing, never migrated, behind, or unreachable.

    Refused, so that an answer is never "nothing" only because the database is the wrong one."""

    code = "database_not_ready"


def shown_url(url: str) -> str:
    """A database URL fit to print: the password masked."""
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def _where(url: str, setting: str) -> str:
    path = _sqlite_file(url)
    if path is not None:
        return (
            f"{path} (the SQLite file in {setting})"
            if setting == "HUB_DATA_DIR"
            else (f"{path} ({setting})")
        )
    return f"{shown_url(url)} ({setting})"


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(normalise_url(url))
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database
    return Path(database).resolve() if database and database != ":memory:" else None


def _fix(setting: str) -> str:
    if setting == "HUB_DATA_DIR":
        return (
            "point HUB_DATA_DIR at the directory that holds the hub's hub.db (the one `hub up` "
            "uses), or, for a new hub, run `hub db upgrade` to create the database there"
        )
    return (
        "check HUB_DATABASE_URL names the hub's database, or, for a new hub, run "
        "`hub db upgrade` to create the schema there"
    )


def open_existing(
    url: str, setting: str, busy_timeout_s: float = 30.0, upgrade: bool = False
) -> Engine:
    """An engine on the hub database at `url` (named by `setting`: HUB_DATABASE_URL or
    HUB_DATA_DIR) that exists and holds the hub's schema; DatabaseNotReady otherwise, naming
    the database, the setting and what to do. Nothing is created: no file, no directory, no
    table. A schema behind this hub's newest migration is migrated with `upgrade`, else refused.
    """
    where = _where(url, setting)
    path = _sqlite_file(url)
    if path is not None and not path.is_file():
        raise DatabaseNotReady(f"no hub database at {where}: {_fix(setting)}")
    engine = make_engine(url, busy_timeout_s, create_dirs=False)
    try:
        current = set(current_revisions(engine))
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseNotReady(
            f"cannot reach the database {where}: {_reason(exc)}. Check {setting} and that the "
            "database server is running and reachable from here"
        ) from exc
    if not current:
        engine.dispose()
        raise DatabaseNotReady(
            f"the database {where} holds no hub data (it was never migrated): {_fix(setting)}"
        )
    script = script_directory()
    heads = set(script.get_heads())
    known = {rev.revision for rev in script.walk_revisions()}
    if current == heads or not current <= known:
        return engine  # at the newest, or migrated by a newer hub (rolling upgrade)
    if upgrade:
        migrate(engine)
        return engine
    engine.dispose()
    raise DatabaseNotReady(
        f"the database {where} is at revision {', '.join(sorted(current))} but this hub needs "
        f"{', '.join(sorted(heads))}: run `hub db upgrade` first"
    )


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's first line (no SQL, no traceback)."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return text[0] if text else type(exc).__name__


def any_found(engine: Engine, *queries: Select[Any]) -> bool:
    """Whether any of `queries` finds a row: each asks for one, in turn, until one does."""
    with engine.connect() as conn:
        return any(conn.execute(q.limit(1)).first() is not None for q in queries)


def insert_ignoring_duplicates(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], unique: str | tuple[str, ...]
) -> int:
    """One batched INSERT; rows whose `unique` key already exists are skipped. Returns inserted."""
    return len(inserted_keys(conn, table, rows, unique))


def sqlite_insert_new(
    conn: Connection,
    table: str,
    columns: tuple[str, ...],
    rows: Sequence[dict[str, Any]],
    unique: tuple[str, ...],
    times: tuple[str, ...] = (),
) -> int:
    """SQLite: `insert_ignoring_duplicates` by one prepared executemany, for a hot path (SQLAlchemy
    builds and binds a RETURNING insert row by row: 15 to 19 against 11 to 12.5 us a row for the
    router's claims and the ingest journal, docs/performance.md). The rows' `columns` go in as
    given (text, numbers, bytes, None); `times` name those holding UTC datetimes, spelt as
    SQLAlchemy stores them. Only a repeat of `unique` is skipped (`OR IGNORE` would also skip a
    NULL in a NOT NULL column). Returns how many went in: SQLite counts an executemany exactly,
    and has one writer at a time, so the count is this transaction's own."""
    values = sqlite_time_rows(
        ([r[c] for c in columns] for r in rows), tuple(columns.index(c) for c in times)
    )
    return int(
        conn.exec_driver_sql(_sqlite_insert_new_sql(table, columns, unique), values).rowcount
    )


@lru_cache(maxsize=64)
def _sqlite_insert_new_sql(table: str, columns: tuple[str, ...], unique: tuple[str, ...]) -> str:
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(unique)}) DO NOTHING"
    )


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


def sqlite_time_rows(
    rows: Iterable[Sequence[Any]], times_at: Sequence[int]
) -> list[tuple[Any, ...]]:
    """Rows of values for a prepared SQLite executemany, the datetimes at `times_at` spelt as
    SQLAlchemy stores them (`YYYY-MM-DD HH:MM:SS.ffffff`; the values are UTC already). A batch's
    rows share most of their moments, so each is formatted once."""
    spelt: dict[datetime, str] = {}
    out = []
    for row in rows:
        values = list(row)
        for i in times_at:
            v = values[i]
            if v is not None:
                text = spelt.get(v)
                if text is None:
                    text = spelt[v] = utc_text(v)
                values[i] = text
        out.append(tuple(values))
    return out


def copy_rows(conn: Connection, copy_sql: str, rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL: rows in by one `COPY ... FROM STDIN` (psycopg) in the caller's transaction.
    A driver error is raised as SQLAlchemy's own (IntegrityError, OperationalError, ...), as an
    INSERT through SQLAlchemy would raise it, so callers handle both alike."""
    dbapi = conn.dialect.loaded_dbapi
    driver = conn.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
    except dbapi.Error as exc:
        raise DBAPIError.instance(copy_sql, None, exc, dbapi.Error) from exc
