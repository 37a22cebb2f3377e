"""`hub run api`: the FastAPI application (ingest, inbox, health), wired to the broker and database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from agents.batching import APP_ID
from connectors import http_ingest, pull_inbox, receiver_api
from connectors.status_api import connectors_router
from hub import __version__
from hub.access.keys import KeyStore, refuse_demo_keys
from hub.api import admin as admin_api
from hub.api import audit as audit_api
from hub.api import dashboard, health
from hub.api import match as match_api
from hub.api import policy as policy_api
from hub.api import quality as quality_api
from hub.api import schema_registry as schema_registry_api
from hub.api.asyncapi import asyncapi_document
from hub.api.context import ApiContext
from hub.api.docs import install_docs
from hub.api.errors import install_error_handlers
from hub.api.health import Probes, Readiness
from hub.api.ig_context import IgContext
from hub.api.limits import install_limits
from hub.api.metrics import GaugeCache, HttpMetrics, read_gauges
from hub.api.oidc import OidcClient
from hub.api.openapi import complete_openapi, operation_id
from hub.api.policy import PolicyContext
from hub.api.reminders import ReminderLog
from hub.api.signin import KeySessions, install_sessions, require_oidc_settings
from hub.audit.checkpoint import CheckpointStore
from hub.audit.subject_access import SubjectAccess
from hub.broker.clients import BrokerMonitor
from hub.broker.producer import AiokafkaSender, start_producer
from hub.config.model import KafkaSink, WebhookSink
from hub.config.watch import ConfigWatcher
from hub.connectors.store import ConnectorStore
from hub.events.publisher import EventPublisher
from hub.events.registry_view import RegistryView
from hub.journal.store import JournalStore
from hub.routing.claims import ClaimStore
from hub.secrets import audit_verifier, session_secret
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from runtime.connectors import connector_defs
from runtime.matching import match_context_for
from runtime.review import retry as retry_review
from runtime.wiring import open_stores, wire

# the worker's batch agents (runtime/worker.py), whose consumer lag /metrics reports
AGENT_GROUPS = tuple(
    f"{APP_ID}.{name}" for name in ("router", "delivery", "audit-writer", "rejected-recorder")
)


def create_app(settings: HubSettings) -> FastAPI:
    settings.require_bootstrap("the API")
    w = wire(settings)
    keys = record_keys(settings)  # no key, no API (it signs every event it accepts)
    stores = open_stores(settings, schema="upgrade")  # refuses no database
    refuse_demo_keys(w.config, KeyStore(stores.engine), settings.allow_demo_keys)
    audit_verifier(settings)  # a bad audit key stops the start, not the first verify
    # one watcher for every request: keys, agreements and the dashboard follow the config dir
    watcher = ConfigWatcher(
        settings.config_dir, w.registry, w.config, settings.config_reload_interval_s
    )
    require_oidc_settings(settings)  # an issuer without its client id and secret: no start
    workbench = dashboard.Workbench(
        sessions=KeySessions(settings.session_max_age_s),
        oidc=OidcClient(settings) if settings.oidc_enabled else None,
        # API-key sign-in: only the embedded laptop default (`hub up` allows its demo keys)
        key_sign_in=settings.allow_demo_keys,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = await start_producer(settings)  # a BrokerError says why Kafka refused it
        app.state.hub = ApiContext(
            settings=settings,
            bootstrap=settings.kafka_bootstrap,
            watcher=watcher,
            registry=w.registry,
            rules=w.rules,
            publisher=EventPublisher(
                AiokafkaSender(producer),
                w.codec,
                w.names,
                JournalStore(stores.engine),
                keys=keys,
            ),
            inbox=stores.inbox,
            audit=stores.audit,
            heartbeat=stores.heartbeat,
            quality=stores.quality,
            rejected=stores.rejected,
            claims=ClaimStore(stores.engine),
        )
        app.state.keys = KeyStore(stores.engine)
        app.state.policy = PolicyContext(
            engine=stores.engine,
            watcher=watcher,
            review=stores.review,
            rules=w.rules,
        )
        app.state.match = match_context_for(settings, stores)
        app.state.ig = IgContext(
            engine=stores.engine,
            access=SubjectAccess(stores.engine, settings.pseudonym_key.get_secret_value()),
            checkpoints=CheckpointStore(stores.engine, audit_verifier(settings)),
            keys=app.state.keys,
        )
        workbench.config = app.state.policy.watcher.current
        workbench.retry = partial(retry_review, settings, settings.kafka_bootstrap, stores.review)
        reminder_log = ReminderLog(workbench.config)
        monitor = BrokerMonitor(settings)
        fresh = timedelta(seconds=settings.worker_stale_after_s)
        readiness = Readiness(
            monitor.ping,
            stores.engine,
            settings.kafka_bootstrap,
            settings.readiness_check_interval_s,
            fresh,
        )
        recipients = w.config.recipients
        gauges = GaugeCache(
            partial(
                read_gauges,
                stores.engine,
                [s.id for s in recipients if not isinstance(s.delivery, WebhookSink | KafkaSink)],
                [s.id for s in recipients if isinstance(s.delivery, WebhookSink)],
                worker_fresh=fresh,
                config=workbench.config,
            ),
            partial(monitor.lag, AGENT_GROUPS, [t.name for t in w.topics()]),
            settings.metrics_refresh_interval_s,
        )
        app.state.probes = Probes(readiness, gauges, monitor)
        await readiness.check_once()  # the first /readyz answers from a real check
        readiness.start()
        gauges.start()
        reminder_log.start()
        try:
            yield
        finally:
            await reminder_log.stop()
            await gauges.stop()
            await readiness.stop()
            await monitor.stop()
            await producer.stop()
            stores.engine.dispose()

    app = FastAPI(
        title="Tell-It-Once Hub",
        version=__version__,
        description="Publish change events once; receive the updates your agreements allow.",
        lifespan=lifespan,
        docs_url=None,  # served from the package below (works offline)
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.state.config_watcher = watcher  # the dashboard's "configuration change refused" banner
    app.state.workbench = workbench
    install_sessions(app, settings, session_secret(settings))
    install_error_handlers(app)
    install_docs(app)
    app.add_middleware(HttpMetrics)
    app.include_router(health.router)
    install_limits(app, settings.api_max_body_bytes)
    app.include_router(http_ingest.router)
    app.include_router(pull_inbox.router)
    app.include_router(receiver_api.router)
    app.state.receiver_actions = receiver_actions(settings, stores.engine)
    app.include_router(quality_api.router)
    app.include_router(audit_api.router)
    app.include_router(admin_api.router)
    app.include_router(policy_api.router)
    app.include_router(dashboard.router)
    app.include_router(match_api.router)
    app.include_router(connectors_router(ConnectorStore(stores.engine), connector_defs(w)))
    dashboard.install(app)
    if not settings.schema_registry_url:  # the hub's own registry, read over HTTP
        app.state.schema_view = RegistryView.build(
            w.registry,
            settings.schema_dir,
            {t: w.names.events(t) for t in w.registry.event_types},
            [
                w.names.recipient_topic(s.id, s.delivery.topic)
                for s in w.config.recipients
                if isinstance(s.delivery, KafkaSink)
            ],
        )
        app.include_router(schema_registry_api.router)

    delivery_avro = json.loads((settings.schema_dir / "delivery.v2.avsc").read_text())

    def openapi() -> dict[str, Any]:
        return complete_openapi(app, w.registry, delivery_avro)

    app.openapi = openapi  # type: ignore[method-assign]
    kafka_doc = asyncapi_document(w.registry, w.names, w.config, settings.schema_dir, __version__)

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi() -> dict[str, Any]:
        """The AsyncAPI 3.0 document of the Kafka side (topics, keys, headers, schemas)."""
        return kafka_doc

    return app


def receiver_actions(settings: HubSettings, engine: Engine) -> receiver_api.ReceiverActions:
    """What a receiver's self-service requests do that needs the broker (redrive, replay)."""
    from hub.api.errors import BadRequest
    from hub.journal.store import JournalStore
    from hub.routing.originals import AuditOriginals
    from hub.subjects.store import SubjectStore
    from hub.timeutil import utcnow
    from runtime.redrive import redrive
    from runtime.replay import ReplayRefused, replay_for

    async def redrive_for(recipient: str) -> tuple[int, int]:
        summary = await redrive(settings, settings.kafka_bootstrap, recipient)
        return summary.requeued, summary.withheld

    async def replay(
        recipient: str, since: datetime, until: datetime | None, event_type: str | None
    ) -> tuple[int, int, int]:
        try:
            summary = await replay_for(
                settings,
                settings.kafka_bootstrap,
                wire(settings),  # today's agreements
                JournalStore(engine),
                SubjectStore(engine),
                AuditOriginals(engine),
                recipient,
                since,
                event_type,
                utcnow(),
                until,
            )
        except ReplayRefused as exc:
            raise BadRequest(str(exc)) from exc
        return summary.considered, summary.delivered, summary.withheld

    return receiver_api.ReceiverActions(engine, settings, redrive_for, replay)


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
