"""The chain in SQL: lock the head, append rows in order, stream rows back in canonical form.

Writers (one or many worker processes) serialise on the `audit_chain_head` row: the first
statement of the write transaction UPDATEs it (SQLite takes its single write lock, PostgreSQL a
row lock held until commit), then reads the head, chains the batch and moves the head.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert, select, text, update

from hub.audit.chain import CHAINED_COLUMNS, DATETIME_COLUMNS, GENESIS, canonical, link, row_values
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


def chain(rows: Sequence[dict[str, Any]], head_seq: int, head_hash: str) -> tuple[int, str]:
    """Give each new row (in order) its seq, prev_hash and row_hash; returns the new head."""
    seq, prev = head_seq, head_hash
    for row in rows:
        seq += 1
        row["seq"] = seq
        row["prev_hash"] = prev
        prev = row["row_hash"] = link(prev, canonical(row_values(row)))
    return seq, prev


def _time_sql(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    # SQLite keeps SQLAlchemy's `YYYY-MM-DD HH:MM:SS.ffffff` (UTC, written by the store).
    return f"replace({column}, ' ', 'T') || 'Z'"


def canonical_select(dialect: str, after_seq: int, until_seq: int | None = None) -> str:
    """SELECT of CHAINED_COLUMNS (times already canonical), prev_hash, row_hash, by seq."""
    cols = [_time_sql(dialect, c) if c in DATETIME_COLUMNS else c for c in CHAINED_COLUMNS]
    where = f"seq > {int(after_seq)}"
    if until_seq is not None:
        where += f" AND seq <= {int(until_seq)}"
    return (
        f"SELECT {', '.join(cols)}, prev_hash, row_hash FROM audit_record "
        f"WHERE {where} ORDER BY seq"
    )


SEQ_INDEX = CHAINED_COLUMNS.index("seq")
N_CHAINED = len(CHAINED_COLUMNS)


def stream_rows(conn: Connection, after_seq: int = 0) -> Iterator[Sequence[Any]]:
    """Every row after `after_seq` in seq order, as tuples (server-side cursor, batched)."""
    result = conn.exec_driver_sql(
        canonical_select(conn.dialect.name, after_seq),
        execution_options={"stream_results": True, "yield_per": STREAM_BATCH},
    )
    for batch in result.partitions(STREAM_BATCH):
        yield from batch


def chain_existing_rows(conn: Connection) -> None:
    """Chain rows written before the chain existed (migration 0005), in seq order."""
    head_seq, prev = lock_head(conn)
    updates: list[dict[str, Any]] = []
    for row in list(stream_rows(conn, head_seq)):
        values = list(row[:N_CHAINED])
        row_hash = link(prev, canonical(values))
        updates.append({"s": values[SEQ_INDEX], "p": prev, "h": row_hash})
        prev, head_seq = row_hash, values[SEQ_INDEX]
    if updates:
        conn.execute(
            text("UPDATE audit_record SET prev_hash = :p, row_hash = :h WHERE seq = :s"), updates
        )
        move_head(conn, head_seq, prev)
