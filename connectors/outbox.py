"""The transactional outbox, for source systems: write the hub's event in the same transaction
as your own change, and the hub's `sql_outbox` connector publishes it (at least once, with
the event id written here, so the hub de-duplicates a re-publication).

    from connectors.outbox import create_outbox_table, write_outbox

    create_outbox_table(engine)                      # once (or run OUTBOX_DDL_POSTGRESQL)
    with engine.begin() as conn:                     # your own transaction
        conn.execute(update(residents).where(...).values(address=...))
        write_outbox(conn, "address.changed", "P-100234", {"new_address": {...}, ...})

If your transaction rolls back, the outbox row goes with it: no event for a change that never
happened, and no change without its event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Connection

DEFAULT_TABLE = "hub_outbox"
_metadata = MetaData()
_tables: dict[str, Table] = {}

OUTBOX_DDL_POSTGRESQL = f"""
CREATE TABLE {DEFAULT_TABLE} (
    id             BIGSERIAL PRIMARY KEY,
    event_id       VARCHAR(128) NOT NULL UNIQUE,
    event_type     VARCHAR(64)  NOT NULL,
    subject        VARCHAR(128) NOT NULL,
    data           TEXT         NOT NULL,   -- the event's data as JSON
    time           TIMESTAMPTZ,             -- when the change happened (default: written)
    correlation_id VARCHAR(128),
    created_at     TIMESTAMPTZ  NOT NULL,
    published_at   TIMESTAMPTZ,             -- set by the hub once the broker acked (or rejected)
    outcome        VARCHAR(16),             -- published | rejected
    error          TEXT                     -- why it was rejected
);
CREATE INDEX ix_{DEFAULT_TABLE}_pending ON {DEFAULT_TABLE} (published_at, id);
"""


def outbox_table(name: str = DEFAULT_TABLE) -> Table:
    """The outbox table's definition (SQLAlchemy Core) under `name`."""
    table = _tables.get(name)
    if table is None:
        schema, _, bare = name.rpartition(".")
        table = Table(
            bare,
            _metadata,
            Column(
                "id",
                BigInteger().with_variant(Integer(), "sqlite"),
                primary_key=True,
                autoincrement=True,
            ),
            Column("event_id", String(128), nullable=False, unique=True),
            Column("event_type", String(64), nullable=False),
            Column("subject", String(128), nullable=False),
            Column("data", Text(), nullable=False),
            Column("time", DateTime(timezone=True), nullable=True),
            Column("correlation_id", String(128), nullable=True),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("published_at", DateTime(timezone=True), nullable=True),
            Column("outcome", String(16), nullable=True),
            Column("error", Text(), nullable=True),
            Index(f"ix_{bare}_pending", "published_at", "id"),
            schema=schema or None,
        )
        _tables[name] = table
    return table


def create_outbox_table(bind: Engine | Connection, name: str = DEFAULT_TABLE) -> Table:
    """Create the outbox table if it does not exist yet."""
    table = outbox_table(name)
    table.create(bind, checkfirst=True)
    return table


def _json_default(value: object) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_outbox(
    conn: Connection,
    event_type: str,
    subject: str,
    data: Mapping[str, Any],
    *,
    event_id: str | None = None,
    time: datetime | None = None,
    correlation_id: str | None = None,
    table: str = DEFAULT_TABLE,
) -> str:
    """Insert one outbox row in the caller's transaction; returns the event id.

    Give your own `event_id` to make a retried transaction recognisable; otherwise a new UUID
    is used. The hub validates the event when it publishes it; a row it rejects is marked
    `outcome = 'rejected'` with the reason in `error`.
    """
    event_id = event_id or str(uuid.uuid4())
    conn.execute(
        outbox_table(table)
        .insert()
        .values(
            event_id=event_id,
            event_type=event_type,
            subject=subject,
            data=json.dumps(dict(data), default=_json_default, separators=(",", ":")),
            time=time,
            correlation_id=correlation_id,
            created_at=datetime.now(UTC),
        )
    )
    return event_id
