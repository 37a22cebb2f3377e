"""Webhook dispatcher: one loop per webhook recipient sends due outbox rows, retries, dead-letters.

Isolation: each recipient has its own loop, connection pool and concurrency limit, and every
request has a timeout, so one recipient down or hanging never delays another. Per person, only
the earliest pending delivery is sent (order). At-least-once: a row leaves `pending` only after
its audit entry is acknowledged by the broker; a row in flight when the worker dies is sent
again with the same webhook-id.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer

from agents.app import WorkerDeps
from agents.batching import OutRecord, send_all, signed, start_producer_retrying
from connectors.webhook import AttemptResult, WebhookSender
from hub.config.model import System, WebhookSink
from hub.delivery.attempts import attempt_entry, failed_entry, success_entry
from hub.delivery.kafka_record import dead_letter_record
from hub.delivery.outbox import OutboxRow, OutboxStatus, OutboxStore, OutboxUpdate
from hub.delivery.schedule import RetrySchedule
from hub.delivery.shape import to_message
from hub.events.cloudevents import audit_record
from hub.resilience import RETRIES, Backoff, error_kind, error_text, is_transient
from hub.routing.messages import AuditEntry
from hub.timeutil import utcnow

log = structlog.get_logger("agents.webhook_dispatcher")

ENDPOINT_CHECK_S = 1.0  # how often a loop re-reads its endpoint state (enabled again?)
DUE_BATCH_FACTOR = 4  # due rows fetched at once: this many times the recipient's concurrency
QUEUE_MAX_AGE_S = 2.0  # fetched rows not started by then are dropped (and fetched again)
HOLD_MARGIN_S = 10.0  # a taken row is held for the queue's age + the request timeout + this

SenderFactory = Callable[[System, WebhookSink, list[str]], WebhookSender]


def default_sender(system: System, sink: WebhookSink, secrets: list[str]) -> WebhookSender:
    return WebhookSender(sink, secrets)


@dataclass(frozen=True)
class AttemptOutcome:
    """What one attempt leaves to do: audit entries, dead-letter records, the outbox update."""

    entries: list[AuditEntry]
    extra: list[OutRecord]
    update: OutboxUpdate
    gone: bool = False


class RecipientLoop:
    """Sends one webhook recipient's due deliveries, at most `sink.concurrency` at a time."""

    def __init__(
        self,
        dispatcher: WebhookDispatcher,
        system: System,
        sink: WebhookSink,
        sender: WebhookSender,
    ) -> None:
        self.d = dispatcher
        self.recipient = system.id
        self.sink = sink
        self.sender = sender
        self.has_secret = bool(sender.secrets)
        self.disabled = False
        self.disabled_changes = 0  # 410s this loop has seen
        self.gone_unrecorded = 0  # of those, not yet recorded in the endpoint table

    async def run(self, producer: AIOKafkaProducer) -> None:
        """Keep up to `sink.concurrency` requests in flight while finished attempts are recorded
        in the background, a batch at a time.

        Due rows are fetched a batch at a time into a short in-memory queue. A person's row is
        fetched only when it is their earliest pending one and the person has no row queued, in
        flight or waiting to be recorded, so a person's later update waits until the earlier
        one has left `pending` in the outbox (per-person order) and no row is ever sent twice at
        once. While recording is behind by a batch (`limit` attempts), no new request starts."""
        settings = self.d.deps.settings
        poll = settings.webhook_poll_interval_s
        limit = self.sink.concurrency * DUE_BATCH_FACTOR
        in_flight: dict[asyncio.Task[AttemptOutcome], OutboxRow] = {}
        queue: deque[OutboxRow] = deque()  # due rows not started yet
        # seq -> until when this loop holds the row (OutboxStore.take_due): no other worker's
        # loop sends it meanwhile; released when dropped unsent, forgotten once recorded
        holds: dict[int, datetime] = {}
        hold_s = QUEUE_MAX_AGE_S + self.sink.timeout_s + HOLD_MARGIN_S
        finished: list[tuple[OutboxRow, AttemptOutcome]] = []  # to record (next settle)
        settling: list[OutboxRow] = []  # being recorded by `settle_task`
        settle_task: asyncio.Task[None] | None = None
        queued_at = 0.0  # when `queue` was fetched
        fetched_at = -math.inf  # when the outbox was last asked
        more_due = True  # the last fetch came back full, or a recorded attempt may free a row
        disabled_logged = False
        next_endpoint_check = 0.0
        backoff = Backoff(settings.retry_backoff_initial_s, settings.retry_backoff_max_s)
        log.info("webhook_loop_started", recipient=self.recipient)
        try:
            while True:
                try:
                    if time.monotonic() >= next_endpoint_check:  # an operator may enable it
                        # the answer counts only if every 410 seen was already recorded when
                        # the read began and none came back during it: else it may predate one
                        seen, clean = self.disabled_changes, not self.gone_unrecorded
                        endpoint = await asyncio.to_thread(self.d.outbox.endpoint, self.recipient)
                        if clean and seen == self.disabled_changes:
                            self.disabled = endpoint.disabled_at is not None
                        next_endpoint_check = time.monotonic() + ENDPOINT_CHECK_S
                    if self.disabled:
                        await self._release(queue, holds)
                        if not disabled_logged:
                            log.warning(
                                "webhook_endpoint_disabled_skipping", recipient=self.recipient
                            )
                            disabled_logged = True
                    elif len(finished) + len(settling) >= limit:
                        # recording is behind (the broker or database slow or down): no more
                        # requests until it catches up, so few attempts are ever unrecorded
                        pass
                    else:
                        disabled_logged = False
                        if queue and time.monotonic() - queued_at > QUEUE_MAX_AGE_S:
                            await self._release(queue, holds)  # due again: fetched again
                        if (
                            not queue
                            and len(in_flight) < self.sink.concurrency
                            and (more_due or time.monotonic() - fetched_at >= poll)
                        ):
                            busy = frozenset(
                                r.subject_key
                                for r in chain(
                                    in_flight.values(), (r for r, _ in finished), settling
                                )
                            )
                            fetched_at = time.monotonic()
                            now = utcnow()
                            hold = now + timedelta(seconds=hold_s)
                            rows = await asyncio.to_thread(
                                self.d.outbox.take_due, self.recipient, now, limit, busy, hold
                            )
                            holds.update((r.seq, hold) for r in rows)
                            queue.extend(rows)
                            queued_at = time.monotonic()
                            more_due = len(rows) == limit
                        while (
                            queue and len(in_flight) < self.sink.concurrency and not self.disabled
                        ):
                            row = queue.popleft()
                            in_flight[asyncio.create_task(self.try_once(row))] = row
                    if settle_task is None and finished:
                        settling = [r for r, _ in finished]
                        outcomes = [o for _, o in finished]
                        finished = []
                        settle_task = asyncio.create_task(self.settle(producer, outcomes))
                    waiting: set[asyncio.Future[Any]] = set(in_flight)
                    if settle_task is not None:
                        waiting.add(settle_task)
                    if not waiting:
                        await asyncio.sleep(poll)
                        continue
                    done, _ = await asyncio.wait(
                        waiting, timeout=poll, return_when=asyncio.FIRST_COMPLETED
                    )
                    for sent in [t for t in in_flight if t in done]:  # in the order started
                        row = in_flight.pop(sent)
                        if sent.exception() is not None:
                            log.error(
                                "webhook_attempt_error",
                                recipient=self.recipient,
                                delivery_id=row.delivery_id,
                                error=error_text(sent.exception()),  # type: ignore[arg-type]
                            )
                        else:
                            finished.append((row, sent.result()))
                    if settle_task is not None and settle_task in done:
                        # recorded (or not: then those rows are still pending and are sent again
                        # with the same webhook-id); either way their people are free again
                        recorded, settled = settle_task, settling
                        settle_task, settling = None, []
                        more_due = True
                        if recorded.exception() is not None:
                            await self._release(settled, holds)  # sent again, same webhook-id
                        for row in settled:
                            holds.pop(row.seq, None)
                        recorded.result()
                    backoff.reset()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # The database or broker restarting: wait (capped exponential backoff) and
                    # try again, for as long as it lasts. Anything else is logged as an error and
                    # retried the same way: one recipient's loop never stops the worker.
                    await self._release(queue, holds)
                    transient = is_transient(exc)
                    delay = backoff.next_delay()
                    (log.warning if transient else log.error)(
                        "webhook_loop_retrying",
                        recipient=self.recipient,
                        error=error_kind(exc) if transient else error_text(exc),
                        transient=transient,
                        retry_in_s=round(delay, 2),
                        retries_total=RETRIES.add("webhook-dispatcher", exc),
                    )
                    await asyncio.sleep(delay)
        finally:
            for task in in_flight:
                task.cancel()
            if settle_task is not None:
                settle_task.cancel()
            await self.sender.close()

    async def attempt(self, producer: AIOKafkaProducer, row: OutboxRow) -> None:
        """One attempt, audited and recorded (the loop batches `try_once` and `settle`)."""
        await self.settle(producer, [await self.try_once(row)])

    async def _release(
        self, rows: deque[OutboxRow] | list[OutboxRow], holds: dict[int, datetime]
    ) -> None:
        """Rows this loop took and will not send now: empties `rows` and makes them due again
        at once, for any worker's loop (if the database is down, their hold lapses instead)."""
        by_hold: dict[datetime, list[int]] = {}
        for row in rows:
            hold = holds.pop(row.seq, None)
            if hold is not None:
                by_hold.setdefault(hold, []).append(row.seq)
        rows.clear()
        for hold, seqs in by_hold.items():
            try:
                await asyncio.to_thread(self.d.outbox.release, seqs, hold, utcnow())
            except Exception as exc:
                log.warning(
                    "webhook_release_failed",
                    recipient=self.recipient,
                    rows=len(seqs),
                    error=error_kind(exc),
                    note="they are sent once their hold lapses",
                )

    async def try_once(self, row: OutboxRow) -> AttemptOutcome:
        """Send once; what to audit, publish and record is returned, not done (see settle)."""
        n = row.attempts + 1
        delivery = row.delivery
        if self.has_secret:
            # the delivery shape v2 (hub.delivery.shape); a retry of this row sends the same
            # message id, a replay or redrive (a new payload) a new one
            message = to_message(delivery)
            result = await self.sender.send(message.delivery_id, message.model_dump_json().encode())
        else:
            result = AttemptResult(None, 0.0, error="no_secret")
        now = utcnow()
        (log.debug if result.delivered else log.info)(
            "webhook_attempt",
            recipient=self.recipient,
            delivery_id=row.delivery_id,
            attempt=n,
            http_status=result.http_status,
            latency_ms=result.latency_ms,
            error=result.error,
        )
        status, error = result.http_status, result.error
        if result.delivered:
            assert status is not None
            entry = success_entry(delivery, now, n, status, result.latency_ms)
            update = OutboxUpdate(row.delivery_id, OutboxStatus.DELIVERED, n, status, "", now)
            return AttemptOutcome([entry], [], update)
        entries = [attempt_entry(delivery, now, n, status, result.latency_ms, error)]
        if result.gone:
            self.disabled = True  # no more requests from this loop until an operator enables it
            self.disabled_changes += 1
            self.gone_unrecorded += 1
            return AttemptOutcome(
                entries,
                [],
                OutboxUpdate(row.delivery_id, OutboxStatus.PENDING, n, status, error, now),
                gone=True,
            )
        delay = self.d.schedule.next_delay(n - row.attempt_base, self.d.rng, result.retry_after_s)
        if delay is None:
            entries.append(failed_entry(delivery, now, n, status, row.attempt_base > 0))
            record = dead_letter_record(delivery, error)
            dead = signed(
                self.d.deps.keys,
                self.d.deps.names.dead_letters,
                record.key,
                record.value,
                record.headers,
            )
            log.error(
                "webhook_dead_letter",
                recipient=self.recipient,
                delivery_id=row.delivery_id,
                attempts=n,
            )
            return AttemptOutcome(
                entries,
                [dead],
                OutboxUpdate(row.delivery_id, OutboxStatus.DEAD, n, status, error, now),
            )
        next_at = now + timedelta(seconds=delay)
        return AttemptOutcome(
            entries,
            [],
            OutboxUpdate(row.delivery_id, OutboxStatus.PENDING, n, status, error, next_at),
        )

    async def settle(self, producer: AIOKafkaProducer, outcomes: Sequence[AttemptOutcome]) -> None:
        """Record a batch of attempts: endpoint state first (410), then the audit entries and dead
        letters acknowledged by the broker, then the outbox rows in one transaction. A crash in
        between only sends a delivery again with the same webhook-id."""
        now = utcnow()
        gone = sum(o.gone for o in outcomes)
        if gone:
            reason = "the endpoint answered 410 Gone: disabled until an operator enables it"
            try:
                await asyncio.to_thread(
                    self.d.outbox.set_endpoint, self.recipient, now, reason, now
                )
            finally:
                # recorded, or not (then the rows are sent again and answered 410 again)
                self.gone_unrecorded -= gone
            log.error("alert_webhook_endpoint_disabled", recipient=self.recipient, http_status=410)
        await self.d.publish(
            producer,
            [e for o in outcomes for e in o.entries],
            [r for o in outcomes for r in o.extra],
        )
        await asyncio.to_thread(self.d.outbox.apply, [o.update for o in outcomes], now)


class WebhookDispatcher:
    def __init__(
        self,
        deps: WorkerDeps,
        outbox: OutboxStore,
        sender_factory: SenderFactory = default_sender,
        rng: random.Random | None = None,
    ) -> None:
        self.deps = deps
        self.outbox = outbox
        self.sender_factory = sender_factory
        self.rng = rng or random.Random()
        settings = deps.settings
        self.schedule = RetrySchedule(
            settings.webhook_retry_schedule_s, settings.webhook_retry_jitter
        )

    @property
    def recipients(self) -> list[tuple[System, WebhookSink]]:
        return [
            (s, s.delivery)
            for s in self.deps.config.recipients
            if isinstance(s.delivery, WebhookSink)
        ]

    async def publish(
        self,
        producer: AIOKafkaProducer,
        entries: Sequence[AuditEntry],
        extra: Sequence[OutRecord] = (),
    ) -> None:
        audit = self.deps.names.audit
        keys = self.deps.keys
        records = [signed(keys, audit, e.subject_key.encode(), *audit_record(e)) for e in entries]
        await send_all(producer, [*records, *extra])

    def loops(self) -> list[RecipientLoop]:
        """One loop per webhook recipient that has a signing secret. One without is not sent
        to (a webhook with an empty `webhook-signature` header breaks Standard Webhooks, and
        the receiver cannot tell it from a forgery): its deliveries wait in the outbox, pending,
        until HUB_WEBHOOK_SECRETS names it and the worker restarts (`hub config check` warns)."""
        secrets = self.deps.settings.webhook_secrets
        out = []
        for system, sink in self.recipients:
            values = [s.get_secret_value() for s in secrets.get(system.id, [])]
            if not values:
                log.error("webhook_secret_missing_deliveries_held", recipient=system.id)
                continue
            out.append(RecipientLoop(self, system, sink, self.sender_factory(system, sink, values)))
        return out

    async def run(self, producer: AIOKafkaProducer) -> None:
        loops = self.loops()
        if loops:
            await asyncio.gather(*(loop.run(producer) for loop in loops))

    def attach(self, app: Any, producer_factory: Callable[[], AIOKafkaProducer]) -> None:
        """Run the loops as a task of the faust app, with their own producer."""
        if not self.recipients:
            return

        @app.task
        async def run_webhook_dispatcher() -> None:
            producer = await start_producer_retrying(
                producer_factory, self.deps.settings, "webhook-dispatcher.producer"
            )
            try:
                await self.run(producer)
            finally:
                await producer.stop()
