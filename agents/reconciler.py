"""Reconciler: re-publish accepted events that have no final outcome yet, with their original id.

The embedded broker keeps messages in memory; if it stops, events the hub already accepted
(202) may be gone from it. The ingest journal (hub.journal.store) still holds them: at worker
start and every `HUB_RECONCILE_INTERVAL_S`, every journaled event older than
`HUB_RECONCILE_GRACE_S` that was never routed, or whose audit trail holds fewer final outcomes
than its routing produced, goes back on its topic. An unrouted event still in its topic at or
after the router group's committed offset is a backlog, not a loss: it stays where it is
(hub.journal.lost decides, from the partition and offset the broker's ack gave at ingest).
Delivery ids derive from the event id, so a recipient that already has it is not sent it twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaProducer

from agents.batching import APP_ID, send_acked, signed, start_producer_retrying
from hub.broker.clients import BrokerMonitor
from hub.events.publisher import Placement
from hub.journal.lost import Positions, placed_partitions, waiting_in_topic
from hub.journal.store import JournalStore
from hub.resilience import RETRIES, Backoff, error_kind, error_text, is_transient
from hub.settings import HubSettings
from hub.signing.records import RecordKeys
from hub.timeutil import utcnow

log = structlog.get_logger("agents.reconciler")

ROUTER_GROUP = f"{APP_ID}.router"  # agents.batching.make_consumer names the router's group so


class BrokerPositions(Protocol):
    """Committed offsets of a group and the log's bounds (hub.broker.clients.BrokerMonitor)."""

    async def positions(self, group: str, partitions: Sequence[tuple[str, int]]) -> Positions: ...

    async def stop(self) -> None: ...


class Reconciler:
    def __init__(
        self,
        store: JournalStore,
        settings: HubSettings,
        keys: RecordKeys,
        positions: BrokerPositions | None = None,
    ) -> None:
        self.store = store
        self.keys = keys
        self.grace = timedelta(seconds=settings.reconcile_grace_s)
        self.interval_s = settings.reconcile_interval_s
        self.backoff_initial_s = min(settings.retry_backoff_initial_s, self.interval_s)
        self.settings = settings
        self.positions: BrokerPositions = positions or BrokerMonitor(settings)

    async def run_once(self, producer: AIOKafkaProducer) -> int:
        now = utcnow()
        due = await asyncio.to_thread(self.store.due, now, self.grace)
        parts = placed_partitions(e.placed for e in due)
        if parts:  # an unrouted event still in its topic ahead of the router is not lost
            positions = await self.positions.positions(ROUTER_GROUP, parts)
            waiting = [e for e in due if waiting_in_topic(e.placed, positions)]
            if waiting:
                log.info(
                    "reconcile_backlog_waiting",
                    events=len(waiting),
                    note="unrouted, still in the topic behind the router: not re-published",
                )
                kept = {id(e) for e in waiting}
                due = [e for e in due if id(e) not in kept]
        if not due:
            return 0
        # signed again: the journal is the hub's own record (events journaled before signing too)
        acks = await send_acked(
            producer, [signed(self.keys, e.topic, e.key, e.value, e.headers) for e in due]
        )
        await asyncio.to_thread(
            self.store.mark_republished,
            [(e.source, e.event_id) for e in due],
            now,
            [
                Placement(e.source, e.event_id, int(a.partition), int(a.offset))
                for e, a in zip(due, acks, strict=True)
            ],
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
        producer = await start_producer_retrying(
            producer_factory, reconciler.settings, "reconciler.producer"
        )
        try:
            await reconciler.run(producer)
        finally:
            await producer.stop()
            await reconciler.positions.stop()
