"""Batch agents: consume with `getmany`, hand a whole batch to a handler, produce, then commit.

faust's per-message stream dispatch costs ~200 us a message; with 11 message hops per event at
K=5 it capped the hub at ~270 events/s (3% of raw aiokafka). Each agent here is a task of the
faust app (faust still owns the worker's lifecycle, signals and timers) running one aiokafka
consumer in its own consumer group. At-least-once: offsets are committed only after the
handler's output has been acknowledged by the broker; consumers are idempotent (unique keys).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from hub.broker.consumer import make_consumer as hub_consumer
from hub.metrics import batch_done
from hub.settings import HubSettings
from hub.signing.records import RecordKeys

log = structlog.get_logger("agents.batching")

APP_ID = "tell-it-once-hub"
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


@dataclass(frozen=True)
class OutRecord:
    topic: str
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()


def signed(
    keys: RecordKeys,
    topic: str,
    key: bytes | None,
    value: bytes,
    headers: Sequence[tuple[str, bytes]] = (),
) -> OutRecord:
    """A record for an internal topic, signed by the hub (its consumers verify it)."""
    return OutRecord(topic, key, value, keys.sign_headers(topic, key, value, headers))


Handler = Callable[[Sequence[ConsumerRecord[bytes, bytes]]], Awaitable[Iterable[OutRecord]]]


async def send_all(producer: AIOKafkaProducer, records: Iterable[OutRecord]) -> int:
    """Send without waiting in between, then wait for every acknowledgement."""
    futures = [
        await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers)) for r in records
    ]
    if futures:
        await asyncio.gather(*futures)
    return len(futures)


def make_consumer(settings: HubSettings, name: str, topics: Sequence[str]) -> AIOKafkaConsumer:
    return hub_consumer(
        settings,
        *topics,
        group_id=f"{APP_ID}.{name}",
        client_id=f"{APP_ID}.{name}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.consumer_fetch_wait_ms,
        session_timeout_ms=int(settings.broker_session_timeout_s * 1000),
        heartbeat_interval_ms=int(settings.heartbeat_interval_s * 1000),
        max_poll_records=settings.agent_batch_size,
    )


class BatchAgent:
    """One consume -> handle -> produce -> commit loop."""

    def __init__(
        self,
        name: str,
        topics: Sequence[str],
        handler: Handler,
        settings: HubSettings,
        after_sent: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self.topics = tuple(topics)
        self.handler = handler
        self.settings = settings
        self.after_sent = after_sent  # runs once a batch's output is acknowledged, before commit
        self.consumer: AIOKafkaConsumer | None = None

    def assigned(self) -> int:
        return len(self.consumer.assignment()) if self.consumer else 0

    async def run(self, producer: AIOKafkaProducer) -> None:
        consumer = make_consumer(self.settings, self.name, self.topics)
        await consumer.start()
        self.consumer = consumer
        log.info("agent_started", agent=self.name, topics=list(self.topics))
        try:
            while True:
                batches = await consumer.getmany(
                    timeout_ms=1000, max_records=self.settings.agent_batch_size
                )
                records = [r for batch in batches.values() for r in batch]
                if not records:
                    continue
                started = time.monotonic()
                sent = await self._handle(producer, records)
                await consumer.commit()
                batch_done(self.name, len(records), time.monotonic() - started)
                log.debug(
                    "batch_done",
                    agent=self.name,
                    records=len(records),
                    sent=sent,
                    offsets={
                        f"{tp.topic}/{tp.partition}": b[-1].offset for tp, b in batches.items()
                    },
                )
        finally:
            self.consumer = None
            await consumer.stop()
            log.info("agent_stopped", agent=self.name)

    async def _handle(
        self, producer: AIOKafkaProducer, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> int:
        """Handle and send one batch; retry it on failure (the database or broker restarting).

        Handlers are idempotent (unique keys), so a retried batch never doubles anything. After
        the last attempt the error propagates and the worker stops, its offsets uncommitted.
        """
        for attempt, delay in enumerate((*RETRY_DELAYS_S, None), start=1):
            try:
                sent = await send_all(producer, await self.handler(records))
                if self.after_sent is not None:
                    await self.after_sent()
                return sent
            except Exception as exc:
                if delay is None:
                    raise
                first = records[0]
                log.error(
                    "batch_failed_retrying",
                    agent=self.name,
                    attempt=attempt,
                    retry_in_s=delay,
                    topic=first.topic,
                    partition=first.partition,
                    offset=first.offset,
                    error=repr(exc),
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


def attach(
    app: Any, agents: Sequence[BatchAgent], producer_factory: Callable[[], AIOKafkaProducer]
) -> None:
    """Run the agents as tasks of the faust app; they share one producer."""

    @app.task
    async def run_agents() -> None:
        # The worker's logging setup leaves the root at DEBUG; aiokafka logs every send there.
        logging.getLogger("aiokafka").setLevel(logging.WARNING)
        producer = producer_factory()
        await producer.start()
        try:
            await asyncio.gather(*(agent.run(producer) for agent in agents))
        finally:
            await producer.stop()
