"""A real faust worker process (`hub run worker`) against the real embedded broker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from hub.audit.store import AuditFilter, AuditRow, AuditStore
from hub.broker.admin import ensure_topics
from hub.broker.embedded import EmbeddedBroker
from hub.broker.producer import AiokafkaSender, make_producer
from hub.db.engine import make_engine, migrate
from hub.events.publisher import EventPublisher
from hub.heartbeat import HeartbeatStore
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from hub.timeutil import utcnow
from runtime.stack import settings_env
from runtime.wiring import Wiring, open_stores, wire
from tests.waiting import wait_for_items


class WorkerProcess:
    def __init__(self, settings: HubSettings, log_file: Path) -> None:
        self.settings = settings
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        with open(self.log_file, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli", "run", "worker"],
                env=settings_env(self.settings),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        beats = HeartbeatStore(make_engine(self.settings.effective_database_url))
        deadline = time.monotonic() + timeout
        while beats.ready_workers(utcnow(), timedelta(seconds=5)) == 0:
            assert self.proc.poll() is None, self.log_file.read_text()[-3000:]
            assert time.monotonic() < deadline, (
                "worker not ready in time:\n" + self.log_file.read_text()[-3000:]
            )
            time.sleep(0.1)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture(params=["sqlite"])
def database(request: pytest.FixtureRequest) -> str:
    """Which database the worker writes to; tests parametrize it (indirect) to add postgres."""
    return str(request.param)


@pytest.fixture
def hub_settings(
    broker: EmbeddedBroker, settings: HubSettings, database: str, request: pytest.FixtureRequest
) -> HubSettings:
    update: dict[str, object] = {"kafka_bootstrap": broker.bootstrap}
    if database == "postgres":
        url = request.getfixturevalue("postgres_url")
        reset_schema(url)
        update["database_url"] = url
    return settings.model_copy(update=update)


def reset_schema(url: str) -> None:
    """Drop every table the migrations create, so each test starts from an empty database."""
    from sqlmodel import SQLModel

    import hub.db.tables  # noqa: F401  (registers the tables)

    engine = make_engine(url)
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def migrated_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database on SQLite and on PostgreSQL, brought to the newest migration."""
    url = (
        f"sqlite:///{tmp_path / 'hub.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    reset_schema(url)
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def wiring(hub_settings: HubSettings) -> Wiring:
    w = wire(hub_settings)
    asyncio.run(ensure_topics(hub_settings, w.topics()))
    open_stores(hub_settings, schema="create").engine.dispose()
    return w


@pytest.fixture
def worker(hub_settings: HubSettings, wiring: Wiring, tmp_path: Path) -> Iterator[WorkerProcess]:
    w = WorkerProcess(hub_settings, tmp_path / "worker.log")
    w.start()
    yield w
    if w.proc and w.proc.poll() is None:
        w.stop()


@pytest.fixture
async def publisher(hub_settings: HubSettings, wiring: Wiring) -> AsyncIterator[EventPublisher]:
    producer = make_producer(hub_settings, hub_settings.kafka_bootstrap)
    await producer.start()
    yield EventPublisher(
        AiokafkaSender(producer), wiring.codec, wiring.names, keys=record_keys(hub_settings)
    )
    await producer.stop()


@pytest.fixture
def wait_audit(hub_settings: HubSettings) -> Callable[..., list[AuditRow]]:
    store = AuditStore(make_engine(hub_settings.effective_database_url))

    def _wait(
        event_ids: list[str], expected: int, timeout: float = 30, settle: float = 0.0
    ) -> list[AuditRow]:
        def rows() -> list[AuditRow]:
            return store.query(AuditFilter(event_ids=tuple(event_ids), limit=10_000))

        found = wait_for_items(rows, expected, "audit rows", timeout)
        if not settle:
            return found
        time.sleep(settle)  # give duplicates, if any, the chance to show up
        return rows()

    return _wait
