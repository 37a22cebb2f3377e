"""Source connector: CSV/XLSX files, one event per row, resumable, with a results file.

`import_file` is the one-off load (`hub connectors import FILE --source X`); `FileDropConnector` watches a
folder and imports each file that lands there, then moves it to `processed/` (with its results
file) or, when it cannot be read at all, to `failed/` (with the reason in `<name>.error.txt`).

Every row's event id is derived from the file's content hash and the row number, and the
import's position (rows acked by the broker) is saved after each batch: an interrupted import
resumes where it stopped and re-publishes at most the batch that was in flight, with the same
ids, which the hub de-duplicates.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import structlog

from hub.connectors.config import FileDropDef
from hub.connectors.ids import file_sha256
from hub.connectors.mapping import RowMapping
from hub.connectors.rows import ImportTarget, Outcome, RowDecider, RowResult, results_csv
from hub.connectors.store import ConnectorStore, ImportKey
from hub.connectors.tabular import FileUnreadable, ParsedTable, TableRow, read_table
from hub.events.publisher import EventPublisher
from hub.events.rules import RuleConfig
from hub.events.schemas import SchemaRegistry
from hub.quality.counters import Tally, rule_tallies
from hub.timeutil import utcnow

log = structlog.get_logger("connectors.file_drop")

IMPORTABLE = (".csv", ".xlsx", ".txt")
RESULTS_SUFFIX = ".results.csv"
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ImportSummary:
    file_name: str
    sha256: str
    rows: int
    published: int
    rejected: int
    duplicates: int
    blank: int
    resumed_from: int
    already_done: bool
    results_file: Path
    ignored_columns: tuple[str, ...] = ()
    published_now: int = 0  # by this run (a resumed run skips rows acked before)
    rejected_now: int = 0


@dataclass(frozen=True)
class ImportContext:
    """What an import needs from the hub: how to publish, validate, and remember (its progress,
    counts and data quality tallies, in the hub's database)."""

    publisher: EventPublisher
    store: ConnectorStore
    registry: SchemaRegistry
    rules: RuleConfig
    batch_size: int = 1000


def check_columns(table: ParsedTable, target: ImportTarget, file_name: str) -> tuple[str, ...]:
    """Every mapped column must be in the header; returns the header's unmapped columns."""
    assert target.mapping is not None
    missing = sorted(target.mapping.columns - set(table.headers))
    if missing:
        raise FileUnreadable(
            f"{file_name}: the header lacks the mapped column(s) {', '.join(missing)}"
            f" (it has {', '.join(table.headers)})"
        )
    return tuple(h for h in table.headers if h not in target.mapping.columns)


@dataclass
class _Counts:
    published: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class LoadedFile:
    path: Path
    sha256: str
    table: ParsedTable


async def load_file(path: Path) -> LoadedFile:
    """Read and parse a file (no broker needed); raises FileUnreadable saying why it cannot."""
    data = await asyncio.to_thread(path.read_bytes)
    return LoadedFile(path, file_sha256(data), read_table(data, path.name))


async def import_file(
    path: Path,
    target: ImportTarget,
    ctx: ImportContext,
    results_file: Path | None = None,
    on_progress: ProgressCallback | None = None,
) -> ImportSummary:
    """Import one file; raises FileUnreadable (nothing published) or BrokerError (resumable).

    Every row's outcome goes to `results_file` (default: next to the file, `<name>.results.csv`).
    """
    return await import_loaded(await load_file(path), target, ctx, results_file, on_progress)


def _decide_all(decider: RowDecider, rows: Sequence[TableRow]) -> list[RowResult]:
    return [decider.decide(row) for row in rows]


async def import_loaded(
    loaded: LoadedFile,
    target: ImportTarget,
    ctx: ImportContext,
    results_file: Path | None = None,
    on_progress: ProgressCallback | None = None,
) -> ImportSummary:
    path, sha, table = loaded.path, loaded.sha256, loaded.table
    if target.mapping is None:
        target = replace(target, mapping=RowMapping.from_headers(target.event_type, table.headers))
    ignored = check_columns(table, target, path.name)
    key = ImportKey(sha, target.source, target.event_type)
    total = len(table.rows)
    progress = ctx.store.start_import(key, target.connector, path.name, total, utcnow())
    done = progress.rows_done
    log.info(
        "import_started",
        file_sha256=sha,
        source=target.source,
        type=target.event_type,
        rows=total,
        resume_from=done,
    )
    now = utcnow()
    decider = RowDecider(target, sha, ctx.registry, ctx.rules.at(now), path.name)
    results: list[RowResult] = []
    counts = _Counts()

    async def commit(end: int, fresh: list[RowResult]) -> None:
        """Publish a batch's events; once the broker acked them all, save the position."""
        events = [r.event for r in fresh if r.event is not None]
        await ctx.publisher.publish_many(events)
        rejected = [r for r in fresh if r.outcome is Outcome.REJECTED]
        counts.published += len(events)
        counts.rejected += len(rejected)
        tallies: list[Tally] = []
        for r in rejected:
            tallies += rule_tallies(
                (p.rule for p in r.problems), target.source, target.event_type, now
            )
        ctx.store.advance_import(
            key,
            end,
            len(events),
            len(rejected),
            sum(r.outcome is Outcome.DUPLICATE for r in fresh),
            utcnow(),
            finished=end == total,
            tallies=tallies,
        )
        if on_progress is not None:
            on_progress(end, total)

    # One batch at a time is with the broker; the next is validated while it acknowledges. The
    # validation runs in a thread: on the event loop it held up the batch in flight (its sends,
    # acknowledgements and journal), so the two took turns instead of overlapping.
    in_flight: asyncio.Task[None] | None = None
    try:
        for start in range(0, total, ctx.batch_size) if total else ():
            end = min(total, start + ctx.batch_size)
            batch = await asyncio.to_thread(_decide_all, decider, table.rows[start:end])
            results += [RowResult(r.row, r.outcome, r.event_id, r.problems) for r in batch]
            if in_flight is not None:
                await in_flight
                in_flight = None
            fresh = batch[max(0, done - start) :] if end > done else []
            if fresh:
                in_flight = asyncio.create_task(commit(end, fresh))
            elif on_progress is not None:
                on_progress(end, total)
        if in_flight is not None:
            await in_flight
            in_flight = None
    finally:
        if in_flight is not None:
            in_flight.cancel()
    published_now, rejected_now = counts.published, counts.rejected
    if total == 0 and progress.status != "done":
        ctx.store.advance_import(key, 0, 0, 0, 0, utcnow(), finished=True)
    results_file = results_file or path.with_name(path.name + RESULTS_SUFFIX)
    results_file.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(results_file.write_text, results_csv(results), "utf-8")
    summary = ImportSummary(
        file_name=path.name,
        sha256=sha,
        rows=total,
        published=sum(r.outcome is Outcome.PUBLISHED for r in results),
        rejected=sum(r.outcome is Outcome.REJECTED for r in results),
        duplicates=sum(r.outcome is Outcome.DUPLICATE for r in results),
        blank=sum(r.outcome is Outcome.BLANK for r in results),
        resumed_from=done if progress.status != "done" else 0,
        already_done=progress.status == "done",
        results_file=results_file,
        ignored_columns=ignored,
        published_now=published_now,
        rejected_now=rejected_now,
    )
    log.info(
        "import_finished",
        file_sha256=sha,
        rows=total,
        published=summary.published,
        rejected=summary.rejected,
        duplicates=summary.duplicates,
        already_done=summary.already_done,
    )
    return summary


def _unique_destination(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / name
    if not dest.exists():
        return dest
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return folder / f"{Path(name).stem}.{stamp}{Path(name).suffix}"


def waiting_in(folder: Path, settle_s: float, now: float) -> list[Path]:
    """Files in a watched folder ready to import (unchanged for settle_s), oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        if (
            entry.is_file()
            and not entry.name.startswith((".", "~$"))
            and entry.suffix.lower() in IMPORTABLE
            and not entry.name.endswith(RESULTS_SUFFIX)
        ):
            mtime = entry.stat().st_mtime
            if now - mtime >= settle_s:
                found.append((mtime, entry))
    return [p for _, p in sorted(found)]


def unique_destination(folder: Path, name: str) -> Path:
    return _unique_destination(folder, name)


class FileDropConnector:
    """Watches one folder for one source system and event type."""

    def __init__(self, definition: FileDropDef, data_dir: Path, ctx: ImportContext) -> None:
        self.definition = definition
        self.folder = definition.folder_in(data_dir)
        self.ctx = ctx
        self.target = ImportTarget(
            definition.source,
            definition.event_type,
            definition.row_mapping(),
            definition.name,
        )

    @property
    def name(self) -> str:
        return self.definition.name

    def waiting(self, now: float) -> list[Path]:
        """Files ready to import (unchanged for settle_s), oldest first."""
        return waiting_in(self.folder, self.definition.settle_s, now)

    async def run_once(self) -> list[ImportSummary]:
        """Import every file waiting in the folder; broker errors propagate (the file stays)."""
        import time

        self.folder.mkdir(parents=True, exist_ok=True)
        summaries = []
        for path in self.waiting(time.time()):
            summary = await self._one(path)
            if summary is not None:
                summaries.append(summary)
        pending = self.waiting(time.time() + self.definition.settle_s)
        oldest = datetime.fromtimestamp(pending[0].stat().st_mtime, UTC) if pending else None
        self.ctx.store.record_poll(self.name, len(pending), oldest, "", utcnow())
        return summaries

    async def _one(self, path: Path) -> ImportSummary | None:
        dest = _unique_destination(self.folder / "processed", path.name)
        try:
            summary = await import_file(
                path, self.target, self.ctx, dest.with_name(dest.name + RESULTS_SUFFIX)
            )
        except FileUnreadable as exc:
            failed = _unique_destination(self.folder / "failed", path.name)
            shutil.move(path, failed)
            failed.with_name(failed.name + ".error.txt").write_text(str(exc) + "\n", "utf-8")
            log.warning("import_failed", connector=self.name, file=failed.name, reason=exc.code)
            self.ctx.store.advance(self.name, f"failed: {path.name}", 0, 0, utcnow())
            return None
        shutil.move(path, dest)
        self.ctx.store.advance(
            self.name,
            f"{path.name}: all {summary.rows} rows",
            summary.published_now,
            summary.rejected_now,
            utcnow(),
        )
        return summary
