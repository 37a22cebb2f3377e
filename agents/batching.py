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
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)

from hub.broker.consumer import make_consumer as hub_consumer
from hub.broker.consumer import should_rest
from hub.heartbeat import AgentAssignment
from hub.metrics import batch_done
from hub.resilience import (
    RETRIES,
    Backoff,
    error_kind,
    error_text,
    is_rebalance,
    is_transient,
    keep_running,
)
from hub.settings import HubSettings
from hub.signing.records import RecordKeys

log = structlog.get_logger("agents.batching")

APP_ID = "tell-it-once-hub"
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # for errors that are not transient


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


async def send_acked(producer: AIOKafkaProducer, records: Iterable[OutRecord]) -> list[Any]:
    """`send_all`, returning each record's acknowledgement (RecordMetadata: partition, offset)."""
    futures = [
        await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers)) for r in records
    ]
    return list(await asyncio.gather(*futures)) if futures else []


def make_consumer(
    settings: HubSettings,
    name: str,
    topics: Sequence[str],
    listener: ConsumerRebalanceListener | None = None,
) -> AIOKafkaConsumer:
    """The consumer of agent `name`'s group; `listener` is told of each rebalance."""
    consumer = hub_consumer(
        settings,
        group_id=f"{APP_ID}.{name}",
        client_id=f"{APP_ID}.{name}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.consumer_fetch_wait_ms,
        session_timeout_ms=int(settings.broker_session_timeout_s * 1000),
        heartbeat_interval_ms=int(settings.heartbeat_interval_s * 1000),
        max_poll_records=settings.agent_batch_size,
    )
    consumer.subscribe(list(topics), listener=listener)
    return consumer


class GroupMembership(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """Whether a consumer's latest group join has completed, whatever it was given.

    aiokafka calls `on_partitions_revoked` before every join (the first one too, with nothing to
    revoke) and `on_partitions_assigned` once the join and sync are done, with the partitions
    this member got: possibly none, which `assignment()` alone cannot tell from "not joined yet".
    """

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self.joined = False

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self.joined = False

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.joined = True
        by_topic: dict[str, list[int]] = {}
        for tp in sorted(assigned):
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        log.info("partitions_assigned", agent=self.agent, partitions=by_topic)


POLL_MS = 1000  # how long a busy agent's getmany waits for records
REST_LOOK_MARGIN_MS = 100  # a resting agent's look: its fetch's wait, and the round trip


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
        self.membership: GroupMembership | None = None

    async def run_supervised(self, producer: AIOKafkaProducer) -> None:
        """`run`, started again (a new consumer, re-joining the group) after a transient error:
        the broker restarting, the group coordinator moving."""
        await keep_running(
            self.name,
            lambda: self.run(producer),
            self.settings.retry_backoff_initial_s,
            self.settings.retry_backoff_max_s,
        )

    def assignment(self) -> AgentAssignment:
        """Joined (its group's latest rebalance done) and how many partitions it holds."""
        consumer, membership = self.consumer, self.membership
        if consumer is None or membership is None:
            return AgentAssignment(joined=False, partitions=0)
        return AgentAssignment(membership.joined, len(consumer.assignment()))

    async def run(self, producer: AIOKafkaProducer) -> None:
        membership = GroupMembership(self.name)
        consumer = make_consumer(self.settings, self.name, self.topics, membership)
        try:
            await consumer.start()
        except BaseException:
            await consumer.stop()
            raise
        self.consumer, self.membership = consumer, membership
        log.info("agent_started", agent=self.name, topics=list(self.topics))
        try:
            wait_ms = POLL_MS
            quiet_since = time.monotonic()
            while True:
                batches = await consumer.getmany(
                    timeout_ms=wait_ms, max_records=self.settings.agent_batch_size
                )
                records = [r for batch in batches.values() for r in batch]
                if not records:
                    quiet_for = time.monotonic() - quiet_since
                    if should_rest(quiet_for, self.settings.consumer_rest_after_s):
                        await self._rest(consumer)
                        # then one look: a fetch is answered within its wait
                        wait_ms = self.settings.consumer_fetch_wait_ms + REST_LOOK_MARGIN_MS
                    continue
                wait_ms = POLL_MS
                started = time.monotonic()
                sent = await self._handle(producer, records)
                committed = await self._commit(consumer, batches)
                batch_done(self.name, len(records), time.monotonic() - started)
                log.debug(
                    "batch_done",
                    agent=self.name,
                    records=len(records),
                    sent=sent,
                    committed=committed,
                    offsets={
                        f"{tp.topic}/{tp.partition}": b[-1].offset for tp, b in batches.items()
                    },
                )
                quiet_since = time.monotonic()
        finally:
            self.consumer = self.membership = None
            await consumer.stop()
            log.info("agent_stopped", agent=self.name)

    async def _rest(self, consumer: AIOKafkaConsumer) -> None:
        """Stop fetching for HUB_CONSUMER_REST_MS: the agent has found nothing for a while, and
        on the embedded broker an idle consumer's back-to-back fetches cost CPU on both sides.
        Paused partitions stay assigned (no rebalance); a record fetched as they were paused is
        dropped by aiokafka and fetched again from the same position."""
        consumer.pause(*consumer.assignment())
        try:
            await asyncio.sleep(self.settings.consumer_rest_ms / 1000)
        finally:
            consumer.resume(*consumer.paused())  # partitions assigned since come unpaused

    async def _commit(
        self,
        consumer: AIOKafkaConsumer,
        batches: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]],
    ) -> bool:
        """Commit the end of the handled batch, for the partitions this member still holds.

        The group may have rebalanced while the batch was handled (a worker joined or died): the
        commit then fails (CommitFailedError) and must not be retried, since the partitions may
        belong to another member now. Nothing is committed; the new owner re-reads the records
        from the last committed offset (aiokafka resets every newly assigned partition's position
        to it) and handles them again, which the idempotent handlers make harmless. Any other
        transient commit failure is skipped the same way: the next batch's commit covers it.
        """
        assigned = consumer.assignment()
        offsets = {tp: b[-1].offset + 1 for tp, b in batches.items() if b and tp in assigned}
        if not offsets:
            self._skipped_commit("partitions_revoked", len(batches))
            return False
        try:
            await consumer.commit(offsets)
        except Exception as exc:
            if not is_transient(exc):
                raise
            RETRIES.add(f"{self.name}.commit", exc)
            self._skipped_commit(
                "rebalanced" if is_rebalance(exc) else error_kind(exc), len(offsets)
            )
            return False
        return True

    def _skipped_commit(self, reason: str, partitions: int) -> None:
        log.warning(
            "batch_commit_skipped",
            agent=self.name,
            reason=reason,
            partitions=partitions,
            note="records are handled again from the last committed offset",
        )

    async def _handle(
        self, producer: AIOKafkaProducer, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> int:
        """Handle and send one batch; retry it on failure (the database or broker restarting).

        Handlers are idempotent (unique keys), so a retried batch never doubles anything. A
        transient error (database down or locked, broker unreachable) is retried with capped
        exponential backoff for as long as it lasts; any other error `RETRY_DELAYS_S` times,
        then it propagates and the worker stops, its offsets uncommitted.
        """
        backoff = Backoff(self.settings.retry_backoff_initial_s, self.settings.retry_backoff_max_s)
        other_failures = 0
        while True:
            try:
                sent = await send_all(producer, await self.handler(records))
                if self.after_sent is not None:
                    await self.after_sent()
                return sent
            except Exception as exc:
                if is_transient(exc):
                    delay = backoff.next_delay()
                else:
                    if other_failures >= len(RETRY_DELAYS_S):
                        log.error("batch_failed", agent=self.name, error=error_text(exc))
                        raise
                    delay = RETRY_DELAYS_S[other_failures]
                    other_failures += 1
                first = records[0]
                log.warning(
                    "batch_failed_retrying",
                    agent=self.name,
                    attempt=backoff.attempt + other_failures,
                    retry_in_s=round(delay, 2),
                    topic=first.topic,
                    partition=first.partition,
                    offset=first.offset,
                    error=error_kind(exc),
                    transient=is_transient(exc),
                    retries_total=RETRIES.add(self.name, exc),
                )
                await asyncio.sleep(delay)


def attach(
    app: Any, agents: Sequence[BatchAgent], producer_factory: Callable[[], AIOKafkaProducer]
) -> None:
    """Run the agents as tasks of the faust app; they share one producer."""

    @app.task
    async def run_agents() -> None:
        # The worker's logging setup leaves the root at DEBUG; aiokafka logs every send there.
        logging.getLogger("aiokafka").setLevel(logging.WARNING)
        producer = await start_producer_retrying(
            producer_factory, agents[0].settings, "agents.producer"
        )
        try:
            await asyncio.gather(*(agent.run_supervised(producer) for agent in agents))
        finally:
            await producer.stop()


async def start_producer_retrying(
    factory: Callable[[], AIOKafkaProducer], settings: HubSettings, task: str
) -> AIOKafkaProducer:
    """A started producer; while the broker is unreachable (restarting), try again with backoff."""
    started: list[AIOKafkaProducer] = []

    async def attempt() -> None:
        producer = factory()
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        started.append(producer)

    await keep_running(
        task, attempt, settings.retry_backoff_initial_s, settings.retry_backoff_max_s
    )
    return started[0]
