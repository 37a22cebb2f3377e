"""`hub run worker`: the faust worker hosting the router, delivery and audit-writer agents."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging

import faust

from agents.app import WorkerDeps, make_faust_app
from agents.audit_writer import AuditWriterHandler
from agents.batching import BatchAgent, attach
from agents.delivery import DeliveryHandler
from agents.heartbeat import register_heartbeat
from agents.reconciler import Reconciler, attach_reconciler
from agents.rejected_recorder import RejectedRecorderHandler
from agents.retention import RetentionTask, attach_retention
from agents.router import RouterHandler, RouterPorts
from agents.webhook_dispatcher import WebhookDispatcher
from hub.broker.admin import ensure_topics
from hub.broker.producer import make_producer
from hub.config.watch import ConfigWatcher
from hub.delivery.kafka_record import DeliveryCodec
from hub.delivery.outbox import OutboxStore
from hub.heartbeat import reported_partitions
from hub.inbox.delivered import deliver_to_inbox
from hub.journal.store import JournalStore
from hub.metrics import serve_worker_metrics
from hub.rejected.quarantine import QuarantineStore
from hub.routing.claims import ClaimStore
from hub.routing.originals import AuditOriginals
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from runtime.matching import event_matcher
from runtime.wiring import open_stores, wire


def build_worker_app(settings: HubSettings) -> faust.App:
    settings.require_bootstrap("the worker")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    w = wire(settings)
    keys = record_keys(settings)  # no key, no worker (never signs with an empty one)
    stores = open_stores(settings, schema="create")
    asyncio.run(ensure_topics(settings, w.topics()))
    deps = WorkerDeps(settings, w.config, w.codec, w.names, w.registry.event_types, w.rules, keys)
    quarantine = QuarantineStore(stores.engine)
    watcher = ConfigWatcher(
        settings.config_dir, w.registry, w.config, settings.config_reload_interval_s
    )
    journal = JournalStore(stores.engine)
    ports = RouterPorts(
        stores.quality,
        stores.subjects,
        stores.review,
        AuditOriginals(stores.engine),
        journal,
        ClaimStore(stores.engine),
        matcher=event_matcher(settings, stores.engine),
        inbox=functools.partial(deliver_to_inbox, stores.engine),
    )
    router = RouterHandler(deps, ports, watcher)
    outbox = OutboxStore(stores.engine)
    delivery = DeliveryHandler(
        deps,
        stores.inbox,
        outbox,
        DeliveryCodec.from_dir(settings.schema_dir, w.delivery_schema_id),
        quarantine,
    )
    audit = AuditWriterHandler(deps, stores.audit, quarantine)
    recorder = RejectedRecorderHandler(deps, stores.rejected, quarantine)
    agents = [
        BatchAgent("router", router.topics, router, settings, after_sent=router.after_sent),
        BatchAgent("delivery", delivery.topics, delivery, settings),
        BatchAgent("audit-writer", audit.topics, audit, settings),
        BatchAgent("rejected-recorder", recorder.topics, recorder, settings),
    ]
    app = make_faust_app(settings)
    attach(app, agents, lambda: make_producer(settings, settings.kafka_bootstrap))
    WebhookDispatcher(deps, outbox).attach(
        app, lambda: make_producer(settings, settings.kafka_bootstrap)
    )
    attach_reconciler(
        app,
        Reconciler(journal, settings, keys),
        lambda: make_producer(settings, settings.kafka_bootstrap),
    )
    attach_retention(app, RetentionTask(stores.engine, settings))
    # Ready once every agent has joined its group (an agent may hold none: more workers than
    # partitions) and the worker holds at least one partition.
    register_heartbeat(
        app, stores.heartbeat, lambda: reported_partitions(a.assignment() for a in agents)
    )
    return app


GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """The router allocates thousands of short-lived objects a batch, and Python's default
    thresholds (700, 10, 10) then collect over a thousand times a run: about 1 s of a 7 s
    `hub bench flow` run at K=5 went to the collector (gc.callbacks). Objects that live as long
    as the worker (modules, configuration, app) are frozen out of every collection, and young
    collections run every 50,000 allocations: under 200 collections, +10-15% events/s (peak
    memory +5%)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_worker(settings: HubSettings) -> None:
    app = build_worker_app(settings)
    tune_gc()
    serve_worker_metrics(settings.worker_metrics_port)
    logging.getLogger("faust").setLevel(logging.WARNING)
    loglevel = "info" if settings.log_level.upper() == "DEBUG" else "warning"
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    # faust's startup spinner writes cursor codes (ESC[?25l...) even to a file: worker.log holds
    # JSON lines only
    worker.spinner = None
    worker.execute_from_commandline()
