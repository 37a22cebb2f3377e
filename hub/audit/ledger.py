"""The chain in SQL: lock the head, append rows in order, stream rows back in canonical form.

Writers (one or many worker processes) serialise on the `audit_chain_head` row: the first
statement of the write transaction UPDATEs it (SQLite takes its single write lock, PostgreSQL a
row lock held until commit), then reads the head, chains the batch and moves the head.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, insert, select, text, update

from hub.audit.chain import CHAINED_COLUMNS, DATETIME_COLUMNS, GENESIS, canonical, link, row_values
from hub.db.engine import copy_rows, sqlite_time_rows
from hub.db.tables import AuditChainHead, AuditRecord

AUDIT: Table = AuditRecord.__table__  # type: ignore[attr-defined]
HEAD: Table = AuditChainHead.__table__  # type: ignore[attr-defined]
HEAD_ID = 1
STREAM_BATCH = 20_000


def lock_head(conn: Connection) -> tuple[int, str]:
    """Take the chain's write lock (held until the transaction ends); returns (seq, hash)."""
    locked = conn.execute(
        update(HEAD).where(HEAD.c.id == HEAD_ID).values(head_seq=HEAD.c.head_seq)
    ).rowcount
    if not locked:
        conn.execute(insert(HEAD).values(id=HEAD_ID, head_seq=0, head_hash=GENESIS))
    row = conn.execute(select(HEAD.c.head_seq, HEAD.c.head_hash).where(HEAD.c.id == HEAD_ID)).one()
    return int(row[0]), str(row[1])


def move_head(conn: Connection, seq: int, row_hash: str) -> None:
    conn.execute(update(HEAD).where(HEAD.c.id == HEAD_ID).values(head_seq=seq, head_hash=row_hash))


def chained(
    rows: Iterable[dict[str, Any]], head: tuple[int, str], end: list[tuple[int, str]]
) -> Iterator[dict[str, Any]]:
    """Each row (in order) with its seq, prev_hash and row_hash, given as the consumer takes it;
    once every row is taken, `end` holds the new head.

    Lazily, so that an insert hashes a row just before sending it: PostgreSQL stores a COPY's
    first rows on one core while the writer hashes the next on the other (a writer that hashed
    the whole batch first left the server idle meanwhile: 22,000 against 35,000 rows/s).
    """
    seq, prev = head
    for row in rows:
        seq += 1
        row["seq"] = seq
        row["prev_hash"] = prev
        prev = row["row_hash"] = link(prev, canonical(row_values(row)))
        yield row
    end.append((seq, prev))


INSERT_COLUMNS = (*CHAINED_COLUMNS, "prev_hash", "row_hash")
_SQLITE_INSERT = (
    f"INSERT INTO audit_record ({', '.join(INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(INSERT_COLUMNS))})"
)


_VALUES = itemgetter(*INSERT_COLUMNS)
_TIMES_AT = tuple(i for i, c in enumerate(INSERT_COLUMNS) if c in DATETIME_COLUMNS)


_PG_COPY = f"COPY audit_record ({', '.join(INSERT_COLUMNS)}) FROM STDIN"


def insert_rows(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Insert chained rows (taken one by one, as they come): on SQLite one prepared executemany
    (no per-row SQL compilation); on PostgreSQL one COPY (a third of the time of a multi-row
    INSERT, and the chain's lock is held for it). A row already recorded raises IntegrityError
    either way."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            _SQLITE_INSERT, sqlite_time_rows((_VALUES(r) for r in rows), _TIMES_AT)
        )
    elif conn.dialect.name == "postgresql":
        copy_rows(conn, _PG_COPY, (_VALUES(r) for r in rows))
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        conn.execute(insert(AUDIT), list(rows))


def _time_sql(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    # SQLite keeps SQLAlchemy's `YYYY-MM-DD HH:MM:SS.ffffff` (UTC, written by the store).
    return f"replace({column}, ' ', 'T') || 'Z'"


def canonical_select(dialect: str, after_seq: int, until_seq: int | None = None) -> str:
    """Rows after `after_seq` in seq order: seq, the canonical form's values, prev_hash, row_hash.

    SQLite builds the canonical JSON itself (json_array: the same bytes as chain.canonical,
    checked by the store tests), which is what makes verify fast; PostgreSQL's json functions
    put spaces after commas, so there the values come back and Python encodes them.
    """
    cols = ", ".join(_time_sql(dialect, c) if c in DATETIME_COLUMNS else c for c in CHAINED_COLUMNS)
    values = f"json_array({cols})" if dialect == "sqlite" else cols
    until = "" if until_seq is None else f" AND seq <= {int(until_seq)}"
    return (
        f"SELECT seq, {values}, prev_hash, row_hash FROM audit_record "
        f"WHERE seq > {int(after_seq)}{until} ORDER BY seq"
    )


ChainRow = tuple[int, str, str, str]  # seq, canonical form, prev_hash, row_hash


def stream_rows(
    conn: Connection, after_seq: int = 0, until_seq: int | None = None
) -> Iterator[ChainRow]:
    """Every row after `after_seq` (up to `until_seq`) in seq order (server-side cursor)."""
    sql = canonical_select(conn.dialect.name, after_seq, until_seq)
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(sql)
        while batch := cursor.fetchmany(STREAM_BATCH):
            yield from batch
        cursor.close()
        return
    result = conn.exec_driver_sql(
        sql, execution_options={"stream_results": True, "yield_per": STREAM_BATCH}
    )
    last = N_CHAINED + 1
    for batch in result.partitions(STREAM_BATCH):
        for row in batch:
            yield row[0], canonical(row[1:last]), row[last], row[last + 1]


N_CHAINED = len(CHAINED_COLUMNS)


def chain_existing_rows(conn: Connection) -> None:
    """Chain rows written before the chain existed (migration 0005), in seq order."""
    head_seq, prev = lock_head(conn)
    updates: list[dict[str, Any]] = []
    for seq, form, _, _ in list(stream_rows(conn, head_seq)):
        row_hash = link(prev, form)
        updates.append({"s": seq, "p": prev, "h": row_hash})
        prev, head_seq = row_hash, seq
    if updates:
        conn.execute(
            text("UPDATE audit_record SET prev_hash = :p, row_hash = :h WHERE seq = :s"), updates
        )
        move_head(conn, head_seq, prev)


def append_locked(
    conn: Connection, rows: Iterable[dict[str, Any]], head: tuple[int, str]
) -> tuple[int, str]:
    """Append rows to the chain inside the caller's transaction, whose first statement took
    the head's lock (`lock_head`, which returned `head`). Returns the new head."""
    taken = iter(rows)
    first = next(taken, None)
    if first is None:
        return head
    end: list[tuple[int, str]] = []
    insert_rows(conn, chained(itertools.chain([first], taken), head, end))
    move_head(conn, *end[0])
    return end[0]
