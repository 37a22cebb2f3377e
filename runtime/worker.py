"""`hub worker`: the faust worker running the router, delivery and audit-writer agents."""

from __future__ import annotations

import asyncio
import logging

import faust

from agents.app import WorkerDeps, make_faust_app
from agents.audit_writer import register_audit_writer
from agents.delivery import register_delivery
from agents.heartbeat import register_heartbeat
from agents.router import register_router
from hub.broker.admin import ensure_topics
from hub.errors import ConfigError, Problem
from hub.settings import HubSettings
from runtime.wiring import open_stores, wire


def build_worker_app(settings: HubSettings) -> faust.App:
    if not settings.kafka_bootstrap:
        raise ConfigError(
            "the worker needs a broker",
            [
                Problem(
                    "HUB_KAFKA_BOOTSTRAP",
                    "required",
                    "set it to host:port (`hub up` does this for you)",
                )
            ],
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    w = wire(settings)
    stores = open_stores(settings)
    asyncio.run(ensure_topics(settings.kafka_bootstrap, w.topics()))
    app = make_faust_app(settings, settings.kafka_bootstrap)
    deps = WorkerDeps(settings, w.config, w.codec, w.names, w.registry.event_types)
    register_router(app, deps)
    register_delivery(app, deps, stores.inbox)
    register_audit_writer(app, deps, stores.audit)
    register_heartbeat(app, stores.heartbeat)
    return app


def run_worker(settings: HubSettings) -> None:
    app = build_worker_app(settings)
    loglevel = "warning" if settings.log_level.upper() != "DEBUG" else "info"
    logging.getLogger("faust").setLevel(logging.WARNING)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
