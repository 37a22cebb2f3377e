"""`/metrics` for Prometheus: in-process counters and histograms, plus cached business gauges.

A scrape does no database query and opens no Kafka connection: it renders the process's own
instruments (`hub.metrics`: HTTP requests, ingest, rejections) and the last business gauges a
background task computed (at most every HUB_METRICS_REFRESH_INTERVAL_S) with cheap queries: the
chain head row, indexed counts of pending inbox items and webhook dead letters per recipient,
the open review items, the unrouted journal entries, fresh worker heartbeats, and consumer lag
from the group coordinator through one long-lived admin client. Labels are system ids, event
types, topics and outcomes only: never personal data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, Table, func, select

from hub.audit.ledger import HEAD
from hub.audit.workbench import reminders
from hub.config.model import HubConfig
from hub.db.tables import (
    InboxItem,
    IngestJournal,
    ReviewItem,
    WebhookOutbox,
    WorkerHeartbeat,
)
from hub.metrics import HTTP_DURATION, HTTP_REQUESTS, UNMATCHED_ROUTE, method_label
from hub.periodic import Periodic
from hub.timeutil import uk_date, utcnow

log = structlog.get_logger("hub.api.metrics")

INBOX: Table = InboxItem.__table__  # type: ignore[attr-defined]
REVIEW: Table = ReviewItem.__table__  # type: ignore[attr-defined]
OUTBOX: Table = WebhookOutbox.__table__  # type: ignore[attr-defined]
JOURNAL: Table = IngestJournal.__table__  # type: ignore[attr-defined]
HEARTBEATS: Table = WorkerHeartbeat.__table__  # type: ignore[attr-defined]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Gauges:
    """Figures read from the database (and the broker) in the background, never at scrape time."""

    inbox_pending: Mapping[str, int] = field(default_factory=dict)
    webhook_pending: Mapping[str, int] = field(default_factory=dict)
    dead_letters: Mapping[str, int] = field(default_factory=dict)
    review_open: int = 0
    agreements_needing_review: int = 0
    journal_unrouted: int = 0
    chain_head: int = 0
    workers_live: int = 0
    lag: Mapping[tuple[str, str], int] | None = None  # None: the broker did not answer


def read_gauges(
    engine: Engine,
    inbox_recipients: Sequence[str],
    webhook_recipients: Sequence[str],
    worker_fresh: timedelta,
    now: datetime | None = None,
    config: Callable[[], HubConfig] | None = None,
) -> Gauges:
    """The database gauges, each from an index or a one-row table, never a whole-table count of
    the audit store (whose size has no bound but retention)."""
    now = now or utcnow()
    with engine.connect() as conn:
        inbox = {
            r: int(
                conn.execute(
                    select(func.count()).where(INBOX.c.recipient == r, INBOX.c.acked_at.is_(None))
                ).scalar_one()
            )
            for r in inbox_recipients
        }
        outbox: dict[tuple[str, str], int] = {}
        for r in webhook_recipients:
            for status in ("pending", "dead"):  # ix_webhook_outbox_due (recipient, status, ...)
                outbox[(r, status)] = int(
                    conn.execute(
                        select(func.count()).where(
                            OUTBOX.c.recipient == r, OUTBOX.c.status == status
                        )
                    ).scalar_one()
                )
        review = conn.execute(select(func.count()).where(REVIEW.c.status == "open")).scalar_one()
        unrouted = conn.execute(
            select(func.count()).where(JOURNAL.c.status == "accepted")
        ).scalar_one()
        head = conn.execute(select(HEAD.c.head_seq)).scalar_one_or_none()
        workers = conn.execute(
            select(func.count()).where(HEARTBEATS.c.last_seen >= now - worker_fresh)
        ).scalar_one()
    return Gauges(
        inbox_pending=inbox,
        webhook_pending={r: n for (r, s), n in outbox.items() if s == "pending"},
        dead_letters={r: n for (r, s), n in outbox.items() if s == "dead"},
        review_open=int(review),
        agreements_needing_review=len(reminders(config(), uk_date(now))) if config else 0,
        journal_unrouted=int(unrouted),
        chain_head=int(head or 0),
        workers_live=int(workers),
    )


@dataclass
class _Refresh:
    at: float = 0.0  # unix time of the last refresh that finished
    seconds: float = 0.0
    failures: dict[str, int] = field(default_factory=lambda: {"database": 0, "broker": 0})


class GaugeCache(Collector):
    """The last gauges read, and the loop that reads them every `interval_s` in the background."""

    def __init__(
        self,
        read_db: Callable[[], Gauges],
        read_lag: Callable[[], Awaitable[dict[tuple[str, str], int]]] | None,
        interval_s: float,
        timeout_s: float = 10.0,
    ) -> None:
        self.read_db = read_db
        self.read_lag = read_lag
        self.timeout_s = timeout_s
        self.gauges: Gauges | None = None
        self.refresh_state = _Refresh()
        self._loop = Periodic("metrics-gauges", self.refresh, interval_s)
        self._db_inflight: asyncio.Future[Gauges] | None = None

    @property
    def interval_s(self) -> float:
        return self._loop.interval_s

    @interval_s.setter
    def interval_s(self, seconds: float) -> None:
        """Takes effect from the next wait between refreshes."""
        self._loop.interval_s = seconds

    async def refresh(self) -> None:
        started = time.monotonic()
        gauges = self.gauges
        # a read still blocked (a database outage) is waited on, not started again
        if self._db_inflight is None or self._db_inflight.done():
            self._db_inflight = asyncio.ensure_future(asyncio.to_thread(self.read_db))
            self._db_inflight.add_done_callback(retrieved)
        try:
            gauges = await asyncio.wait_for(asyncio.shield(self._db_inflight), self.timeout_s)
        except Exception as exc:  # keep the last figures; the failure is counted and logged
            self.refresh_state.failures["database"] += 1
            log.warning("metrics_refresh_failed", part="database", error=repr(exc))
        if gauges is not None and self.read_lag is not None:
            lag: dict[tuple[str, str], int] | None = None  # absent when the broker is silent
            try:
                lag = await asyncio.wait_for(self.read_lag(), self.timeout_s)
            except Exception as exc:
                self.refresh_state.failures["broker"] += 1
                log.warning("metrics_refresh_failed", part="broker", error=repr(exc))
            gauges = replace(gauges, lag=lag)
        self.gauges = gauges
        self.refresh_state.seconds = time.monotonic() - started
        self.refresh_state.at = time.time()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        state = self.refresh_state
        yield GaugeMetricFamily(
            "hub_metrics_refresh_timestamp_seconds",
            "Unix time the business gauges were last computed (0: not yet).",
            value=state.at,
        )
        yield GaugeMetricFamily(
            "hub_metrics_refresh_duration_seconds",
            "How long the last computation of the business gauges took.",
            value=state.seconds,
        )
        failures = CounterMetricFamily(
            "hub_metrics_refresh_failures",
            "Computations of the business gauges that failed, by part (database, broker).",
            labels=["part"],
        )
        for part, n in sorted(state.failures.items()):
            failures.add_metric([part], n)
        yield failures
        g = self.gauges
        if g is None:
            return
        yield _per(
            "hub_inbox_pending_items",
            "Pull-inbox deliveries not yet acknowledged, by recipient.",
            "recipient",
            g.inbox_pending,
        )
        yield _per(
            "hub_webhook_pending_items",
            "Webhook deliveries waiting for a 2xx (being retried), by recipient.",
            "recipient",
            g.webhook_pending,
        )
        yield _per(
            "hub_dead_letters",
            "Webhook deliveries given up after the retry budget, not redriven, by recipient.",
            "recipient",
            g.dead_letters,
        )
        yield GaugeMetricFamily(
            "hub_review_queue_items",
            "Events waiting in the review queue for a person no system's record is linked to.",
            value=g.review_open,
        )
        yield GaugeMetricFamily(
            "hub_agreements_needing_review",
            "Agreements past their review date, ended or ending within 30 days (UK date).",
            value=g.agreements_needing_review,
        )
        yield GaugeMetricFamily(
            "hub_ingest_unrouted_events",
            "Accepted events the router has not yet finished (ingest journal); the reconciler "
            "re-publishes those that stay.",
            value=g.journal_unrouted,
        )
        yield GaugeMetricFamily(
            "hub_audit_chain_head_seq",
            "Sequence number of the audit chain head (rows ever appended; a purge does not lower it).",
            value=g.chain_head,
        )
        yield GaugeMetricFamily(
            "hub_workers_live", "Workers whose heartbeat is fresh.", value=g.workers_live
        )
        if g.lag is not None:  # absent, not zero, when the broker did not answer
            lag = GaugeMetricFamily(
                "hub_consumer_lag",
                "Records on a topic not yet committed by a worker agent's consumer group.",
                labels=["group", "topic"],
            )
            for (group, topic), n in sorted(g.lag.items()):
                lag.add_metric([group, topic], n)
            yield lag


def retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a background check's error as seen (it was reported when it timed out, or is now)."""
    if not future.cancelled():
        future.exception()


def _per(name: str, doc: str, label: str, values: Mapping[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, n in sorted(values.items()):
        family.add_metric([key], n)
    return family


def metrics_text(cache: GaugeCache | None) -> bytes:
    """The process's instruments, then the cached gauges: no I/O."""
    text = generate_latest(REGISTRY)
    if cache is not None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(cache)
        text += generate_latest(registry)
    return text


class HttpMetrics:
    """ASGI middleware: every HTTP request counted and timed under its route template
    (`/v1/inbox/{recipient}`, never the raw path), method and status."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            method = method_label(str(scope.get("method", "")))
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_DURATION.labels(method, template).observe(time.perf_counter() - started)
