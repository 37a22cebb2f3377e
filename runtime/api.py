"""`hub api`: the FastAPI application (ingest, inbox, health), wired to the broker and database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from agents.batching import APP_ID
from connectors import http_ingest, pull_inbox
from connectors.status_api import connectors_router
from hub import __version__
from hub.access.keys import KeyStore, refuse_demo_keys
from hub.api import admin as admin_api
from hub.api import audit as audit_api
from hub.api import dashboard
from hub.api import policy as policy_api
from hub.api import quality as quality_api
from hub.api.context import ApiContext
from hub.api.errors import install_error_handlers
from hub.api.health import database_writable
from hub.api.ig_context import IgContext
from hub.api.metrics import consumer_lag, metrics_text, snapshot
from hub.api.policy import PolicyContext
from hub.audit.checkpoint import CheckpointStore
from hub.audit.subject_access import SubjectAccess
from hub.broker.admin import broker_reachable
from hub.broker.producer import AiokafkaSender, make_producer
from hub.config.watch import ConfigWatcher
from hub.connectors.store import ConnectorStore
from hub.errors import BrokerError
from hub.events.publisher import EventPublisher
from hub.journal.store import JournalStore
from hub.secrets import audit_verifier
from hub.settings import HubSettings
from hub.timeutil import utcnow
from runtime.connectors import connector_defs
from runtime.wiring import open_stores, wire

WORKER_FRESH = timedelta(seconds=10)
# the worker's batch agents (runtime/worker.py), whose consumer lag /metrics reports
AGENT_GROUPS = tuple(
    f"{APP_ID}.{name}" for name in ("router", "delivery", "audit-writer", "rejected-recorder")
)


def create_app(settings: HubSettings) -> FastAPI:
    settings.require_bootstrap("the API")
    w = wire(settings)
    stores = open_stores(settings)
    refuse_demo_keys(w.config, KeyStore(stores.engine), settings.allow_demo_keys)
    audit_verifier(settings)  # a bad audit key stops the start, not the first verify

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = make_producer(settings, settings.kafka_bootstrap)
        try:
            await producer.start()
        except Exception as exc:
            raise BrokerError(
                f"Kafka at {settings.kafka_bootstrap} is not reachable: {exc!r}"
            ) from exc
        app.state.hub = ApiContext(
            settings=settings,
            bootstrap=settings.kafka_bootstrap,
            config=w.config,
            registry=w.registry,
            rules=w.rules,
            publisher=EventPublisher(
                AiokafkaSender(producer), w.codec, w.names, JournalStore(stores.engine)
            ),
            inbox=stores.inbox,
            audit=stores.audit,
            heartbeat=stores.heartbeat,
            quality=stores.quality,
            rejected=stores.rejected,
        )
        app.state.keys = KeyStore(stores.engine)
        app.state.policy = PolicyContext(
            engine=stores.engine,
            watcher=ConfigWatcher(
                settings.config_dir, w.registry, w.config, settings.config_reload_interval_s
            ),
            review=stores.review,
            rules=w.rules,
        )
        app.state.ig = IgContext(
            engine=stores.engine,
            access=SubjectAccess(stores.engine, settings.pseudonym_key.get_secret_value()),
            checkpoints=CheckpointStore(stores.engine, audit_verifier(settings)),
            keys=app.state.keys,
        )
        try:
            yield
        finally:
            await producer.stop()
            stores.engine.dispose()

    app = FastAPI(
        title="Tell-It-Once Hub",
        version=__version__,
        description="Publish change events once; receive the updates your agreements allow.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(http_ingest.router)
    app.include_router(pull_inbox.router)
    app.include_router(quality_api.router)
    app.include_router(audit_api.router)
    app.include_router(admin_api.router)
    app.include_router(policy_api.router)
    app.include_router(dashboard.router)
    app.include_router(connectors_router(ConnectorStore(stores.engine), connector_defs(w)))
    dashboard.mount_static(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The API process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """Ready when the broker answers, the database is writable and a worker holds partitions."""
        ctx: ApiContext = app.state.hub
        broker = await broker_reachable(ctx.bootstrap)
        try:
            workers = await asyncio.to_thread(ctx.heartbeat.ready_workers, utcnow(), WORKER_FRESH)
            database = await asyncio.to_thread(database_writable, app.state.ig.engine)
        except Exception:
            workers, database = 0, False
        checks = {"broker": broker, "database": database, "workers": workers > 0}
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks}, 200 if ok else 503
        )

    @app.get("/metrics", tags=["health"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics: events, deliveries by outcome and recipient, lag, audit latency."""
        ig: IgContext = app.state.ig
        lag = await consumer_lag(settings.kafka_bootstrap, AGENT_GROUPS)
        snap = await asyncio.to_thread(snapshot, ig.engine, lag)
        return Response(metrics_text(snap), media_type="text/plain; version=0.0.4")

    return app


def run_api(settings: HubSettings) -> None:
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
