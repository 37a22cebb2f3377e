"""Source connectors polling a database (any SQLAlchemy URL).

- `SqlTableConnector`: a change table with a unique, increasing key column (the high-water
  mark). Rows with a key above the saved position are read in key order, a batch at a time.
- `SqlOutboxConnector`: the transactional outbox (connectors/outbox.py). Rows not yet
  published are read in id order and marked published (or rejected) once the broker acked.

Both save their position only after the broker acknowledged the batch: a connector killed
mid-batch re-publishes that batch after a restart, with the same event ids (derived from the
connector name and the row key, or written into the outbox row), so the hub de-duplicates.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Engine, MetaData, Select, Table, func, select, update

from connectors.outbox import outbox_table
from hub.connectors.config import SqlOutboxDef, SqlTableDef
from hub.connectors.ids import sql_change_event_id
from hub.connectors.mapping import cell_text
from hub.connectors.store import ConnectorStore, OutboxMarking
from hub.errors import EventValidationError, ProblemsError
from hub.events.envelope import Event
from hub.events.publisher import EventPublisher
from hub.events.rules import RuleConfig
from hub.events.schemas import SchemaRegistry
from hub.events.validation import build_event
from hub.quality.counters import Tally, rejection_tallies
from hub.timeutil import utcnow

log = structlog.get_logger("connectors.sql_poll")


@dataclass(frozen=True)
class PollContext:
    publisher: EventPublisher
    store: ConnectorStore
    registry: SchemaRegistry
    rules: RuleConfig


def position_text(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def position_value(text: str, python_type: type) -> object:
    """A saved position back in the key column's type (so `>` compares correctly)."""
    if python_type is int:
        return int(text)
    if python_type is Decimal:
        return Decimal(text)
    if python_type is float:
        return float(text)
    if python_type is datetime:
        return datetime.fromisoformat(text)
    if python_type is date:
        return date.fromisoformat(text)
    return text


def _aware(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


@dataclass(frozen=True)
class _Rejection:
    key: object
    error: ProblemsError


class _Batch:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.rejected: list[_Rejection] = []


class HighWaterTable:
    """A source table read in key order past a saved position (the high-water mark), reflected
    once. Both SQL pollers (events and identity extracts) read through it."""

    def __init__(self, engine: Engine, table: str, key_column: str) -> None:
        self.engine = engine
        self.name = table
        self.key_column = key_column
        self._table: Table | None = None

    def _reflect(self) -> Table:
        if self._table is None:
            schema, _, bare = self.name.rpartition(".")
            self._table = Table(bare, MetaData(), autoload_with=self.engine, schema=schema or None)
        return self._table

    def _past(self, stmt: Select[Any], table: Table, position: str) -> Select[Any]:
        if not position:
            return stmt
        key = table.c[self.key_column]
        try:
            key_type: type = key.type.python_type
        except NotImplementedError:
            key_type = str
        return stmt.where(key > position_value(position, key_type))

    def read(self, position: str, limit: int) -> list[Mapping[str, Any]]:
        """The next rows past `position`, at most `limit`, in key order."""
        table = self._reflect()
        stmt = self._past(
            select(table).order_by(table.c[self.key_column]).limit(limit), table, position
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings().all()]

    def pending(self, position: str, time_column: str | None = None) -> tuple[int, datetime | None]:
        """How many rows wait past `position`, and the oldest `time_column` among them."""
        table = self._reflect()
        columns: list[Any] = [func.count()]
        if time_column:
            columns.append(func.min(table.c[time_column]))
        stmt = self._past(select(*columns).select_from(table), table, position)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).one()
        return int(row[0]), _aware(row[1]) if len(row) > 1 else None


class SqlTableConnector:
    def __init__(self, definition: SqlTableDef, source_engine: Engine, ctx: PollContext) -> None:
        self.definition = definition
        self.source = HighWaterTable(source_engine, definition.table, definition.key_column)
        self.ctx = ctx
        self.mapping = definition.row_mapping()

    @property
    def name(self) -> str:
        return self.definition.name

    def _read(self, position: str, limit: int) -> list[Mapping[str, Any]]:
        return self.source.read(position, limit)

    def _lag(self, position: str) -> tuple[int, datetime | None]:
        return self.source.pending(position, self.definition.time_column)

    def _decide(self, rows: Sequence[Mapping[str, Any]]) -> _Batch:
        batch = _Batch()
        ctx = self.ctx.rules.at(utcnow())
        dates = self.ctx.registry.latest(self.mapping.event_type).date_paths()
        for row in rows:
            key = row[self.definition.key_column]
            # text dates as the mapping's date_format or dd/mm/yyyy; any other is left for
            # validation to reject
            cells, _ = self.mapping.read_dates(
                {str(k): cell_text(v) for k, v in row.items()}, dates
            )
            raw = self.mapping.to_submission(cells, sql_change_event_id(self.name, key))
            if self.definition.time_column:
                when = _aware(row[self.definition.time_column])
                if when is not None:
                    raw["time"] = when
            try:
                batch.events.append(
                    build_event(raw, self.definition.source, self.ctx.registry, ctx)
                )
            except EventValidationError as exc:
                batch.rejected.append(_Rejection(key, exc))
        return batch

    async def run_once(self) -> int:
        """Publish every change above the position, a batch at a time; returns how many."""
        total = 0
        while True:
            position = self.ctx.store.position(self.name)
            rows = await asyncio.to_thread(self._read, position, self.definition.batch_size)
            if not rows:
                break
            batch = self._decide(rows)
            await self.ctx.publisher.publish_many(batch.events)
            last = position_text(rows[-1][self.definition.key_column])
            tallies = _rejections(self.name, self.definition.source, self.mapping.event_type, batch)
            self.ctx.store.advance(
                self.name, last, len(batch.events), len(batch.rejected), utcnow(), tallies
            )
            total += len(batch.events)
            if len(rows) < self.definition.batch_size:
                break
        pending, oldest = await asyncio.to_thread(self._lag, self.ctx.store.position(self.name))
        self.ctx.store.record_poll(self.name, pending, oldest, "", utcnow())
        return total


def _rejections(name: str, source: str, event_type: str, batch: _Batch) -> tuple[Tally, ...]:
    """The batch's rejections logged, and their data quality tallies (saved with the position)."""
    tallies: list[Tally] = []
    for r in batch.rejected:
        rules = sorted({p.rule for p in r.error.problems})
        log.warning("change_rejected", connector=name, key=position_text(r.key), rules=rules)
        tallies += rejection_tallies(r.error, source, event_type, utcnow())
    return tuple(tallies)


class SqlOutboxConnector:
    def __init__(self, definition: SqlOutboxDef, source_engine: Engine, ctx: PollContext) -> None:
        self.definition = definition
        self.engine = source_engine
        self.ctx = ctx
        self.table = outbox_table(definition.table)

    @property
    def name(self) -> str:
        return self.definition.name

    def _read(self, limit: int) -> list[Mapping[str, Any]]:
        t = self.table
        stmt = select(t).where(t.c.published_at.is_(None)).order_by(t.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings().all()]

    def _mark(self, published: list[int], rejected: list[tuple[int, str]]) -> None:
        t = self.table
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if published:
                conn.execute(
                    update(t)
                    .where(t.c.id.in_(published))
                    .values(published_at=now, outcome="published")
                )
            for row_id, error in rejected:
                conn.execute(
                    update(t)
                    .where(t.c.id == row_id)
                    .values(published_at=now, outcome="rejected", error=error)
                )

    def _settle(self) -> None:
        """Count the batch a connector that died between the two databases left: the source
        marked it (or no longer holds it), so it will never be read again; or forget it,
        as it will be read, published and counted again."""
        marking = self.ctx.store.marking(self.name)
        if marking is None:
            return
        t = self.table
        with self.engine.connect() as conn:
            waiting = conn.execute(
                select(t.c.id).where(t.c.id == marking.row_id, t.c.published_at.is_(None))
            ).first()
        if waiting is not None:
            self.ctx.store.begin_marking(self.name, None)
        else:
            log.info("outbox_batch_counted_after_restart", connector=self.name, row=marking.row_id)
            self._count(marking)

    def _count(self, marked: OutboxMarking) -> None:
        """A batch the source has marked: its counts and tallies, and the marking cleared."""
        self.ctx.store.advance(
            self.name,
            marked.position,
            marked.published,
            marked.rejected,
            utcnow(),
            marked.tallies,
        )

    def _lag(self) -> tuple[int, datetime | None]:
        t = self.table
        stmt = select(func.count(), func.min(t.c.created_at)).where(t.c.published_at.is_(None))
        with self.engine.connect() as conn:
            count, oldest = conn.execute(stmt).one()
        return int(count), _aware(oldest)

    def _decide(
        self, rows: Sequence[Mapping[str, Any]]
    ) -> tuple[_Batch, list[int], list[tuple[int, str]]]:
        batch = _Batch()
        ok: list[int] = []
        bad: list[tuple[int, str]] = []
        ctx = self.ctx.rules.at(utcnow())
        for row in rows:
            raw: dict[str, Any] = {
                "type": row["event_type"],
                "subject": row["subject"],
                "id": row["event_id"],
            }
            if row["correlation_id"]:
                raw["correlation_id"] = row["correlation_id"]
            when = _aware(row["time"])
            if when is not None:
                raw["time"] = when
            try:
                raw["data"] = json.loads(row["data"])
                batch.events.append(
                    build_event(raw, self.definition.source, self.ctx.registry, ctx)
                )
                ok.append(int(row["id"]))
            except json.JSONDecodeError as exc:
                error = EventValidationError("data is not JSON", [])
                batch.rejected.append(_Rejection(row["id"], error))
                bad.append((int(row["id"]), f"data: not valid JSON ({exc})"))
            except EventValidationError as exc:
                batch.rejected.append(_Rejection(row["id"], exc))
                bad.append((int(row["id"]), "; ".join(str(p) for p in exc.problems)))
        return batch, ok, bad

    async def run_once(self) -> int:
        total = 0
        await asyncio.to_thread(self._settle)
        while True:
            rows = await asyncio.to_thread(self._read, self.definition.batch_size)
            if not rows:
                break
            batch, ok, bad = self._decide(rows)
            await self.ctx.publisher.publish_many(batch.events)
            # The source's database and the hub's are two transactions: the counts are written
            # first, as a marking, so a connector that dies in between counts the batch once.
            counted = OutboxMarking(
                row_id=int(rows[0]["id"]),
                position=str(rows[-1]["id"]),
                published=len(batch.events),
                rejected=len(batch.rejected),
                tallies=_rejections(self.name, self.definition.source, "", batch),
            )
            self.ctx.store.begin_marking(self.name, counted)
            await asyncio.to_thread(self._mark, ok, bad)
            self._count(counted)
            total += len(batch.events)
            if len(rows) < self.definition.batch_size:
                break
        pending, oldest = await asyncio.to_thread(self._lag)
        self.ctx.store.record_poll(self.name, pending, oldest, "", utcnow())
        return total
