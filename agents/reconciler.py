"""Reconciler: re-publish accepted events that have no final outcome yet, with their original id.

The embedded broker keeps messages in memory; if it stops, events the hub already accepted
(202) may be gone from it. The ingest journal (hub.journal.store) still holds them: at worker
start and every `HUB_RECONCILE_INTERVAL_S`, every journaled event older than
`HUB_RECONCILE_GRACE_S` that was never routed, or whose audit trail holds fewer final outcomes
than its routing produced, goes back on its topic. Delivery ids derive from the event id, so a
recipient that already has it is not sent it twice.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer

from agents.batching import send_all, signed, start_producer
from hub.journal.store import JournalStore
from hub.resilience import RETRIES, Backoff, error_kind, error_text, is_transient
from hub.settings import HubSettings
from hub.signing.records import RecordKeys
from hub.timeutil import utcnow

log = structlog.get_logger("agents.reconciler")


class Reconciler:
    def __init__(self, store: JournalStore, settings: HubSettings, keys: RecordKeys) -> None:
        self.store = store
        self.keys = keys
        self.grace = timedelta(seconds=settings.reconcile_grace_s)
        self.interval_s = settings.reconcile_interval_s
        self.backoff_initial_s = min(settings.retry_backoff_initial_s, self.interval_s)
        self.settings = settings

    async def run_once(self, producer: AIOKafkaProducer) -> int:
        now = utcnow()
        due = await asyncio.to_thread(self.store.due, now, self.grace)
        if not due:
            return 0
        # signed again: the journal is the hub's own record (events journaled before signing too)
        await send_all(
            producer, [signed(self.keys, e.topic, e.key, e.value, e.headers) for e in due]
        )
        await asyncio.to_thread(
            self.store.mark_republished, [(e.source, e.event_id) for e in due], now
        )
        log.warning(
            "reconciled_republished",
            events=len(due),
            first_event_id=due[0].event_id,
            oldest_accepted_at=due[0].accepted_at.isoformat(),
        )
        return len(due)

    async def run(self, producer: AIOKafkaProducer) -> None:
        """Every interval; after a failure sooner (capped exponential backoff, at most the
        interval) while the database or broker is restarting. Another error is logged and tried
        again at the next interval: the reconciler is a safety net, it must not stop the worker."""
        backoff = Backoff(self.backoff_initial_s, self.interval_s)
        while True:
            delay = self.interval_s
            try:
                await self.run_once(producer)
                backoff.reset()
            except Exception as exc:
                transient = is_transient(exc)
                if transient:
                    delay = backoff.next_delay()
                (log.warning if transient else log.error)(
                    "reconcile_failed_retrying",
                    error=error_kind(exc) if transient else error_text(exc),
                    transient=transient,
                    retry_in_s=round(delay, 2),
                    retries_total=RETRIES.add("reconciler", exc),
                )
            await asyncio.sleep(delay)


def attach_reconciler(app: Any, reconciler: Reconciler, producer_factory: Any) -> None:
    """Run the reconciler as a task of the faust app, with its own producer."""

    @app.task
    async def reconcile() -> None:
        producer = await start_producer(
            producer_factory, reconciler.settings, "reconciler.producer"
        )
        try:
            await reconciler.run(producer)
        finally:
            await producer.stop()
