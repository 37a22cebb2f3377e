"""Running source connectors: one (`hub run connectors NAME`), all (`hub run connectors`,
started by `hub up`), or a one-off file import (`hub connectors import FILE`)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy.exc import SQLAlchemyError

from connectors.extract import ExtractFileConnector, ExtractSqlConnector
from connectors.file_drop import (
    FileDropConnector,
    ImportContext,
    ImportSummary,
    ProgressCallback,
    import_loaded,
    load_file,
)
from connectors.sql_poll import PollContext, SqlOutboxConnector, SqlTableConnector
from hub.broker.admin import ensure_topics
from hub.broker.producer import AiokafkaSender, make_producer
from hub.broker.topics import TopicSpec
from hub.config.model import Role
from hub.config.watch import ConfigWatcher
from hub.connectors.config import (
    AnyConnectorDef,
    ExtractFileDef,
    ExtractSqlDef,
    FileDropDef,
    SqlOutboxDef,
    SqlTableDef,
    load_connectors,
)
from hub.connectors.rows import ImportTarget
from hub.connectors.store import ConnectorStatus, ConnectorStore
from hub.db.engine import make_engine
from hub.errors import ConfigError, HubError, Problem
from hub.events.publisher import EventPublisher
from hub.identity.store import ServiceRecords
from hub.journal.store import JournalStore
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from hub.timeutil import utcnow
from runtime.wiring import Wiring, open_stores, wire

log = structlog.get_logger("runtime.connectors")

ConnectorDef = AnyConnectorDef
Connector = (
    FileDropConnector
    | SqlTableConnector
    | SqlOutboxConnector
    | ExtractFileConnector
    | ExtractSqlConnector
)


def connector_defs(w: Wiring) -> tuple[ConnectorDef, ...]:
    return load_connectors(w.settings.config_dir, w.config, w.registry)


def find_def(defs: Sequence[ConnectorDef], name: str) -> ConnectorDef:
    for d in defs:
        if d.name == name:
            return d
    known = ", ".join(d.name for d in defs) or "none configured"
    raise ConfigError(
        "unknown connector",
        [Problem(name, "known_connector", f"no connector {name!r} in connectors.yaml ({known})")],
    )


@dataclass(frozen=True)
class Hub:
    """What a connector process holds: the wiring, the publisher and the stores."""

    w: Wiring
    publisher: EventPublisher
    connectors: ConnectorStore
    import_ctx: ImportContext
    poll_ctx: PollContext
    records: ServiceRecords  # service record extracts (identity matching)


@asynccontextmanager
async def connected(
    settings: HubSettings, bootstrap: str, event_types: Sequence[str] = ()
) -> AsyncIterator[Hub]:
    w = wire(settings)
    if event_types:
        await ensure_topics(
            settings,
            [
                TopicSpec(w.names.events(t), settings.topic_partitions, settings.topic_replication)
                for t in event_types
            ],
            bootstrap,
        )
    stores = open_stores(settings, schema="upgrade")
    producer = make_producer(settings, bootstrap)
    await producer.start()
    try:
        # accepted rows are journaled too: a lost broker cannot lose what the position passed
        publisher = EventPublisher(
            AiokafkaSender(producer),
            w.codec,
            w.names,
            JournalStore(stores.engine),
            keys=record_keys(settings),
        )
        store = ConnectorStore(stores.engine)
        yield Hub(
            w,
            publisher,
            store,
            ImportContext(publisher, store, w.registry, w.rules, settings.import_batch_size),
            PollContext(publisher, store, w.registry, w.rules),
            ServiceRecords(stores.engine),
        )
    finally:
        await producer.stop()
        stores.engine.dispose()


def build(d: ConnectorDef, hub: Hub) -> Connector:
    hub.connectors.ensure(d.name, d.kind)
    if isinstance(d, FileDropDef):
        return FileDropConnector(d, hub.w.settings.data_dir, hub.import_ctx)
    if isinstance(d, ExtractFileDef):
        return ExtractFileConnector(d, hub.w.settings.data_dir, hub.records, hub.connectors)
    engine = make_engine(d.resolved_url())
    if isinstance(d, ExtractSqlDef):
        return ExtractSqlConnector(d, engine, hub.records, hub.connectors)
    if isinstance(d, SqlTableDef):
        return SqlTableConnector(d, engine, hub.poll_ctx)
    return SqlOutboxConnector(d, engine, hub.poll_ctx)


async def _loop(connector: Connector, hub: Hub, stop: asyncio.Event, once: bool) -> None:
    interval = connector.definition.poll_interval_s
    while not stop.is_set():
        if hub.connectors.paused(connector.name):
            log.debug("connector_paused", connector=connector.name)
        else:
            try:
                await connector.run_once()
            except (HubError, SQLAlchemyError, OSError) as exc:
                log.warning("connector_error", connector=connector.name, error=type(exc).__name__)
                hub.connectors.record_error(
                    connector.name, f"{type(exc).__name__}: {exc}", utcnow()
                )
                if once:
                    raise
        if once:
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def _chosen(defs: Sequence[ConnectorDef], names: Sequence[str] | None) -> list[ConnectorDef]:
    return [d for d in defs if d.name in names] if names else [d for d in defs if d.enabled]


async def run_connectors(
    settings: HubSettings,
    bootstrap: str,
    names: Sequence[str] | None,
    stop: asyncio.Event | None = None,
    once: bool = False,
) -> None:
    """Run the named connectors (None: every enabled one) until `stop` is set (or one round).

    Running, the process re-reads the configuration directory every
    HUB_CONFIG_RELOAD_INTERVAL_S with the worker's and the API's watcher: a connector whose
    definition changed is restarted with the new one (after its current batch), one removed or
    disabled stops, one added starts. A broken edit is refused whole and logged; the
    connectors go on as they were."""
    stop = stop or asyncio.Event()
    w = wire(settings)
    defs = connector_defs(w)
    chosen = [find_def(defs, n) for n in names] if names else [d for d in defs if d.enabled]
    # an outbox may carry any event type, and so may a connector added while running
    types = (
        sorted({d.event_type for d in chosen if isinstance(d, FileDropDef | SqlTableDef)})
        if once and not any(isinstance(d, SqlOutboxDef) for d in chosen)
        else sorted(w.registry.event_types)
    )
    async with connected(settings, bootstrap, types) as hub:
        if once:
            connectors = [build(d, hub) for d in chosen]
            await asyncio.gather(*(_loop(c, hub, stop, once) for c in connectors))
            return
        watcher = ConfigWatcher(
            settings.config_dir, w.registry, w.config, settings.config_reload_interval_s
        )
        running: dict[str, tuple[ConnectorDef, asyncio.Event, asyncio.Task[None]]] = {}

        async def apply(wanted: list[ConnectorDef]) -> None:
            by_name = {d.name: d for d in wanted}
            for name, (d, halt, task) in list(running.items()):
                if by_name.get(name) != d:
                    halt.set()
                    await task
                    del running[name]
                    log.info("connector_stopped_for_config", connector=name)
            for name, d in by_name.items():
                if name not in running:
                    halt = asyncio.Event()
                    connector = build(d, hub)
                    running[name] = (
                        d,
                        halt,
                        asyncio.create_task(_loop(connector, hub, halt, False)),
                    )
                    log.info("connector_started", connector=name, kind=d.kind)

        await apply(chosen)
        log.info("connectors_started", connectors=sorted(running))
        tick = settings.config_reload_interval_s or 3600.0
        try:
            while not stop.is_set():
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), tick)
                if stop.is_set():
                    break
                generation = watcher.generation
                defs_now = await asyncio.to_thread(watcher.connectors)
                if watcher.generation != generation:
                    await apply(_chosen(defs_now, names))
        finally:
            for _, halt, _task in running.values():
                halt.set()
            await asyncio.gather(*(task for _, _, task in running.values()))


def run_forever(settings: HubSettings, bootstrap: str, names: Sequence[str] | None) -> None:
    """Until SIGTERM or Ctrl-C; the current batch is finished (and its position saved) first."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_connectors(settings, bootstrap, names, stop)

    asyncio.run(main())


def has_connectors(settings: HubSettings) -> bool:
    """Whether `hub up` should start a connector process."""
    return any(d.enabled for d in connector_defs(wire(settings)))


def import_target(
    defs: Sequence[ConnectorDef], source: str, event_type: str | None, connector: str | None
) -> ImportTarget:
    """The mapping of the named (or the one matching) file-drop connector, else one from the header."""
    if connector:
        d = find_def(defs, connector)
        if not isinstance(d, FileDropDef):
            raise ConfigError(
                "not a file connector",
                [Problem(connector, "file_drop", f"{connector} is a {d.kind} connector")],
            )
        return ImportTarget(d.source, d.event_type, d.row_mapping(), d.name)
    matches = [
        d
        for d in defs
        if isinstance(d, FileDropDef) and d.source == source and event_type in (None, d.event_type)
    ]
    if len(matches) == 1:
        d = matches[0]
        return ImportTarget(d.source, d.event_type, d.row_mapping(), d.name)
    if event_type is None:
        raise ConfigError(
            "which event type?",
            [
                Problem(
                    "--type",
                    "required",
                    f"{len(matches)} file connectors of {source!r} match: give --type or --connector"
                    if matches
                    else f"no file connector for {source!r} in connectors.yaml: give --type (the columns must then be named after the event's fields)",
                )
            ],
        )
    return ImportTarget(source, event_type, None, "")


async def import_one(
    settings: HubSettings,
    bootstrap: str,
    path: Path,
    source: str,
    event_type: str | None,
    connector: str | None,
    results_file: Path | None,
    on_progress: ProgressCallback | None,
) -> ImportSummary:
    w = wire(settings)
    if source not in {s.id for s in w.config.systems if Role.SOURCE in s.roles}:
        raise ConfigError(
            "unknown source",
            [
                Problem(
                    "--source", "source_role", f"{source!r} is not a source system in systems.yaml"
                )
            ],
        )
    target = import_target(connector_defs(w), source, event_type, connector)
    if target.event_type not in w.registry.event_types:
        raise ConfigError(
            "unknown event type",
            [Problem("--type", "known_event_type", f"unknown event type {target.event_type!r}")],
        )
    loaded = await load_file(path)  # an unreadable file is refused before the broker is needed
    async with connected(settings, bootstrap, [target.event_type]) as hub:
        summary = await import_loaded(loaded, target, hub.import_ctx, results_file, on_progress)
        if target.connector:
            hub.connectors.ensure(target.connector, "file_drop")
            hub.connectors.advance(
                target.connector,
                f"{path.name}: all {summary.rows} rows",
                summary.published_now,
                summary.rejected_now,
                utcnow(),
            )
        return summary


def statuses(settings: HubSettings) -> list[ConnectorStatus]:
    """Every configured connector's state (a connector that never ran shows zeros)."""
    defs = connector_defs(wire(settings))
    store = ConnectorStore(open_stores(settings).engine)
    for d in defs:
        store.ensure(d.name, d.kind)
    configured = {d.name for d in defs}
    return [s for s in store.statuses() if s.name in configured]


def set_paused(settings: HubSettings, name: str, paused: bool) -> None:
    d = find_def(connector_defs(wire(settings)), name)
    ConnectorStore(open_stores(settings).engine).set_paused(name, paused, d.kind)
