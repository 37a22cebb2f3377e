"""Service record extracts through the connectors (identity matching): a watched folder of
CSV/XLSX files (`extract_file`) or a change table polled by high-water mark (`extract_sql`).

Each loads the source system's people's identifying fields into the hub's service_record store,
incrementally (upsert by local id; a `deleted` flag removes one), validated as `PUT
/v1/extracts/{system}` and `hub match load` are (hub.identity.extracts.parse_rows). Only the
mapped columns are read. Problems name the file and line (or the table's key) and the field,
never the value; logs carry counts and ids only.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine

from connectors.file_drop import unique_destination, waiting_in
from connectors.sql_poll import HighWaterTable, position_text
from hub.connectors.config import ExtractFileDef, ExtractSqlDef
from hub.connectors.mapping import cell_text
from hub.connectors.store import ConnectorStore
from hub.connectors.tabular import FileUnreadable, read_table
from hub.identity.extracts import ExtractBatch, ExtractError, mapped_row, parse_rows
from hub.identity.normalise import PersonFields
from hub.identity.store import ServiceRecords
from hub.timeutil import utcnow

log = structlog.get_logger("connectors.extract")
ERROR_SUFFIX = ".error.txt"


class ExtractFileConnector:
    """Watches one folder for one system's extract files; each file is validated whole: a file
    with a problem is moved to `failed/` with every problem in `<name>.error.txt`, loading
    nothing; a good one is applied and moved to `processed/`."""

    def __init__(
        self,
        definition: ExtractFileDef,
        data_dir: Path,
        records: ServiceRecords,
        store: ConnectorStore,
    ) -> None:
        self.definition = definition
        self.folder = definition.folder_in(data_dir)
        self.records = records
        self.store = store
        self.columns = definition.columns()

    @property
    def name(self) -> str:
        return self.definition.name

    def _batch(self, path: Path) -> ExtractBatch:
        table = read_table(path.read_bytes(), path.name)
        local_id_column = self.columns["local_id"]
        if local_id_column not in table.headers:
            raise FileUnreadable(
                f"{path.name}: the header lacks the local_id column {local_id_column!r}"
                f" (it has {', '.join(table.headers)})"
            )
        rows = [r for r in table.rows if not r.blank]
        for r in rows:
            if r.problem is not None:
                raise ExtractError(f"{path.name} cannot be read", [r.problem])
        return parse_rows(
            [mapped_row(r.cells, self.columns) for r in rows],
            where=path.name,
            numbers=[r.number for r in rows],
        )

    def _one(self, path: Path) -> tuple[int, str]:
        """(records upserted, the problem when the file was refused)."""
        try:
            batch = self._batch(path)
        except (ExtractError, FileUnreadable) as exc:
            failed = unique_destination(self.folder / "failed", path.name)
            shutil.move(path, failed)
            lines = [str(exc)]
            if isinstance(exc, ExtractError):
                lines += [str(p) for p in exc.problems]
            failed.with_name(failed.name + ERROR_SUFFIX).write_text(
                "\n".join(lines) + "\n", "utf-8"
            )
            log.warning("extract_refused", connector=self.name, file=failed.name, reason=exc.code)
            self.store.advance(self.name, f"failed: {path.name}", 0, 1, utcnow())
            return 0, f"{path.name} refused (see failed/{failed.name}{ERROR_SUFFIX}): {exc}"
        result = self.records.apply(
            self.definition.source, batch, utcnow(), full_refresh=self.definition.full_refresh
        )
        shutil.move(path, unique_destination(self.folder / "processed", path.name))
        self.store.advance(
            self.name,
            f"{path.name}: {result.upserted} upserted, {result.deleted} deleted",
            result.upserted,
            0,
            utcnow(),
        )
        log.info(
            "extract_loaded",
            connector=self.name,
            system=self.definition.source,
            upserted=result.upserted,
            deleted=result.deleted,
        )
        return result.upserted, ""

    def _run(self) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        total, errors = 0, []
        for path in waiting_in(self.folder, self.definition.settle_s, time.time()):
            upserted, error = self._one(path)
            total += upserted
            if error:
                errors.append(error)
        pending = waiting_in(self.folder, 0, time.time() + self.definition.settle_s)
        oldest = datetime.fromtimestamp(pending[0].stat().st_mtime, UTC) if pending else None
        self.store.record_poll(self.name, len(pending), oldest, "; ".join(errors), utcnow())
        return total

    async def run_once(self) -> int:
        """Load every file waiting in the folder; returns how many records were upserted."""
        return await asyncio.to_thread(self._run)


def last_per_id(
    rows: Sequence[Mapping[str, Any]], keys: Sequence[object]
) -> tuple[list[Mapping[str, Any]], list[object]]:
    """A change table may change one person twice in a batch: the later change wins."""
    latest: dict[str, tuple[Mapping[str, Any], object]] = {}
    rest: list[tuple[Mapping[str, Any], object]] = []
    for row, key in zip(rows, keys, strict=True):
        local_id = str(row.get("local_id") or "").strip()
        if local_id:
            latest.pop(local_id, None)
            latest[local_id] = (row, key)
        else:
            rest.append((row, key))
    kept = rest + list(latest.values())
    return [r for r, _ in kept], [k for _, k in kept]


class ExtractSqlConnector:
    """Polls a change table of one system's people (a high-water mark on `key_column`). Each
    row is validated on its own: a row with a problem is skipped (counted as rejected, its key
    and problems in the connector's status), the others are applied."""

    def __init__(
        self,
        definition: ExtractSqlDef,
        source_engine: Engine,
        records: ServiceRecords,
        store: ConnectorStore,
    ) -> None:
        self.definition = definition
        self.source = HighWaterTable(source_engine, definition.table, definition.key_column)
        self.records = records
        self.store = store
        self.columns = definition.columns()

    @property
    def name(self) -> str:
        return self.definition.name

    def _read(self, position: str, limit: int) -> list[Mapping[str, Any]]:
        return self.source.read(position, limit)

    def _pending(self, position: str) -> int:
        return self.source.pending(position)[0]

    def _decide(self, rows: Sequence[Mapping[str, Any]]) -> tuple[ExtractBatch, list[str]]:
        keys = [row[self.definition.key_column] for row in rows]
        cells: list[Mapping[str, Any]] = [
            mapped_row({str(k): cell_text(v) for k, v in row.items()}, self.columns) for row in rows
        ]
        cells, keys = last_per_id(cells, keys)
        upserts: list[PersonFields] = []
        deletions: list[str] = []
        problems: list[str] = []
        for row, key in zip(cells, keys, strict=True):
            try:
                one = parse_rows(
                    [row],
                    where=self.definition.table,
                    numbers=[f"{self.definition.key_column} {position_text(key)}"],
                )
            except ExtractError as exc:
                problems += [str(p) for p in exc.problems]
                continue
            upserts += one.upserts
            deletions += one.deletions
        return ExtractBatch(tuple(upserts), tuple(deletions)), problems

    def _run(self) -> int:
        total = 0
        problems: list[str] = []
        while True:
            position = self.store.position(self.name)
            rows = self._read(position, self.definition.batch_size)
            if not rows:
                break
            batch, bad = self._decide(rows)
            result = self.records.apply(self.definition.source, batch, utcnow())
            last = position_text(rows[-1][self.definition.key_column])
            self.store.advance(
                self.name, last, result.upserted + result.deleted, len(bad), utcnow()
            )
            if bad:
                log.warning("extract_rows_rejected", connector=self.name, rows=len(bad))
            problems += bad
            total += result.upserted
            if len(rows) < self.definition.batch_size:
                break
        pending = self._pending(self.store.position(self.name))
        error = "; ".join(problems[:5]) + (
            f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        self.store.record_poll(self.name, pending, None, error, utcnow())
        return total

    async def run_once(self) -> int:
        """Apply every change above the position, a batch at a time; returns how many upserted."""
        return await asyncio.to_thread(self._run)
