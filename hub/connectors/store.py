"""Connector state in the hub's database: positions, counters, lag, pause; file import progress.

A position is written only after the broker acknowledged everything before it, so a
connector that crashes re-publishes at most its in-flight batch (with the same event ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, Engine, select, update

from hub.db.engine import insert_ignoring_duplicates
from hub.db.tables import ConnectorImport, ConnectorState
from hub.quality.counters import Tally, add_tallies

_STATE = ConnectorState.__table__  # type: ignore[attr-defined]
_IMPORT = ConnectorImport.__table__  # type: ignore[attr-defined]


class ConnectorStatus(BaseModel):
    """What `hub connectors status` and `GET /v1/connectors` show for one connector."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    position: str
    published: int
    rejected: int
    paused: bool
    pending: int
    oldest_pending_at: datetime | None
    last_run_at: datetime | None
    last_error: str

    def lag_seconds(self, now: datetime) -> float:
        """Age of the oldest change not yet published (0 when nothing is waiting)."""
        if self.oldest_pending_at is None or self.pending == 0:
            return 0.0
        oldest = self.oldest_pending_at
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=now.tzinfo)
        return max(0.0, (now - oldest).total_seconds())


class OutboxMarking(BaseModel):
    """An outbox batch the broker acknowledged, about to be marked in the source's database.

    The mark is one transaction in the source's database, so one of the batch's rows tells
    whether the whole batch was marked."""

    model_config = ConfigDict(frozen=True)

    row_id: int
    position: str
    published: int
    rejected: int
    tallies: tuple[Tally, ...] = ()


@dataclass(frozen=True)
class ImportKey:
    file_sha256: str
    source: str
    event_type: str


class ImportProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    file_sha256: str
    source: str
    event_type: str
    connector: str
    file_name: str
    rows_total: int
    rows_done: int
    published: int
    rejected: int
    duplicates: int
    status: str
    started_at: datetime
    finished_at: datetime | None


class ConnectorStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- connectors ---------------------------------------------------------------------

    def ensure(self, name: str, kind: str) -> None:
        with self.engine.begin() as conn:
            insert_ignoring_duplicates(
                conn,
                _STATE,
                [
                    {
                        "name": name,
                        "kind": kind,
                        "position": "",
                        "published": 0,
                        "rejected": 0,
                        "paused": False,
                        "pending": 0,
                        "last_error": "",
                    }
                ],
                "name",
            )

    def status(self, name: str) -> ConnectorStatus | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_STATE).where(_STATE.c.name == name)).mappings().first()
        return ConnectorStatus.model_validate(dict(row)) if row else None

    def statuses(self) -> list[ConnectorStatus]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(_STATE).order_by(_STATE.c.name)).mappings().all()
        return [ConnectorStatus.model_validate(dict(r)) for r in rows]

    def position(self, name: str) -> str:
        status = self.status(name)
        return status.position if status else ""

    def advance(
        self,
        name: str,
        position: str,
        published: int,
        rejected: int,
        now: datetime,
        tallies: Sequence[Tally] = (),
    ) -> None:
        """After the broker acked a batch: the new position, the batch's counts and its
        rejections' data quality tallies, in one transaction (and no outbox batch is being
        marked any more)."""
        with self.engine.begin() as conn:
            add_tallies(conn, tallies)
            conn.execute(
                update(_STATE)
                .where(_STATE.c.name == name)
                .values(
                    position=position[:500],
                    published=_STATE.c.published + published,
                    rejected=_STATE.c.rejected + rejected,
                    updated_at=now,
                    marking=None,
                )
            )

    def begin_marking(self, name: str, marking: OutboxMarking | None) -> None:
        """Before an outbox batch is marked in the source's database: what it counts (None:
        forget a batch the source never marked; it will be read and counted again)."""
        value = marking.model_dump_json() if marking is not None else None
        with self.engine.begin() as conn:
            conn.execute(update(_STATE).where(_STATE.c.name == name).values(marking=value))

    def marking(self, name: str) -> OutboxMarking | None:
        """The outbox batch a connector that died may have left half marked, if any."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(_STATE.c.marking).where(_STATE.c.name == name)
            ).scalar_one_or_none()
        return OutboxMarking.model_validate_json(value) if value else None

    def record_poll(
        self,
        name: str,
        pending: int,
        oldest_pending_at: datetime | None,
        error: str,
        now: datetime,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(_STATE)
                .where(_STATE.c.name == name)
                .values(
                    pending=pending,
                    oldest_pending_at=oldest_pending_at,
                    last_error=error[:2000],
                    last_run_at=now,
                )
            )

    def record_error(self, name: str, error: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(_STATE)
                .where(_STATE.c.name == name)
                .values(last_error=error[:2000], last_run_at=now)
            )

    def set_paused(self, name: str, paused: bool, kind: str) -> None:
        self.ensure(name, kind)
        with self.engine.begin() as conn:
            conn.execute(update(_STATE).where(_STATE.c.name == name).values(paused=paused))

    def paused(self, name: str) -> bool:
        status = self.status(name)
        return bool(status and status.paused)

    # -- file imports -------------------------------------------------------------------

    def start_import(
        self, key: ImportKey, connector: str, file_name: str, rows_total: int, now: datetime
    ) -> ImportProgress:
        """The import's progress: a new one, or the one an interrupted run left behind."""
        with self.engine.begin() as conn:
            insert_ignoring_duplicates(
                conn,
                _IMPORT,
                [
                    {
                        "file_sha256": key.file_sha256,
                        "source": key.source,
                        "event_type": key.event_type,
                        "connector": connector,
                        "file_name": file_name[:500],
                        "rows_total": rows_total,
                        "rows_done": 0,
                        "published": 0,
                        "rejected": 0,
                        "duplicates": 0,
                        "status": "running",
                        "started_at": now,
                        "updated_at": now,
                    }
                ],
                ("file_sha256", "source", "event_type"),
            )
        found = self.import_progress(key)
        assert found is not None
        return found

    def import_progress(self, key: ImportKey) -> ImportProgress | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_IMPORT).where(*self._where(key))).mappings().first()
        return ImportProgress.model_validate(dict(row)) if row else None

    def advance_import(
        self,
        key: ImportKey,
        rows_done: int,
        published: int,
        rejected: int,
        duplicates: int,
        now: datetime,
        finished: bool = False,
        tallies: Sequence[Tally] = (),
    ) -> None:
        """After the broker acked every row before `rows_done` (a count of data rows); the
        rejected rows' data quality tallies in the same transaction."""
        values: dict[str, object] = {
            "rows_done": rows_done,
            "published": _IMPORT.c.published + published,
            "rejected": _IMPORT.c.rejected + rejected,
            "duplicates": _IMPORT.c.duplicates + duplicates,
            "updated_at": now,
        }
        if finished:
            values.update(status="done", finished_at=now)
        with self.engine.begin() as conn:
            add_tallies(conn, tallies)
            conn.execute(update(_IMPORT).where(*self._where(key)).values(**values))

    def imports(self, limit: int = 50) -> list[ImportProgress]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(select(_IMPORT).order_by(_IMPORT.c.id.desc()).limit(limit))
                .mappings()
                .all()
            )
        return [ImportProgress.model_validate(dict(r)) for r in rows]

    @staticmethod
    def _where(key: ImportKey) -> tuple[ColumnElement[bool], ...]:
        return (
            _IMPORT.c.file_sha256 == key.file_sha256,
            _IMPORT.c.source == key.source,
            _IMPORT.c.event_type == key.event_type,
        )
