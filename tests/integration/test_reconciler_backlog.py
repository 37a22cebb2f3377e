"""The reconciler re-publishes lost events only: a backlog behind a stopped router stays put.

After an outage the router has a backlog. Those events are still in their topic, at or after
the router group's committed offset: re-publishing them (what the reconciler did) routed each
of them twice. Only events the router passed without routing, or the broker no longer holds,
go back on their topic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from agents.reconciler import ROUTER_GROUP, Reconciler
from hub.broker.consumer import make_consumer
from hub.broker.producer import AiokafkaSender, make_producer
from hub.db.engine import make_engine
from hub.events.publisher import EventPublisher, Placement
from hub.journal.store import JournalStore
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from runtime.wiring import Wiring
from tests.integration.webhook_setup import move

TOPIC = "events.address.changed"
SINCE = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture
async def producer(hub_settings: HubSettings) -> AsyncIterator[AIOKafkaProducer]:
    p = make_producer(hub_settings, hub_settings.kafka_bootstrap)
    await p.start()
    yield p
    await p.stop()


async def end_offsets(settings: HubSettings) -> dict[int, int]:
    """Per partition: the records in the topic (counted by reading them: Tansu's ListOffsets
    answers the last batch's base offset + 1)."""
    reader = make_consumer(settings, group_id=None, enable_auto_commit=False)
    await reader.start()
    try:
        parts = [TopicPartition(TOPIC, p) for p in range(settings.topic_partitions)]
        reader.assign(parts)
        await reader.seek_to_beginning()
        ends = dict.fromkeys(range(settings.topic_partitions), 0)
        while got := await reader.getmany(timeout_ms=500):
            for tp, records in got.items():
                ends[tp.partition] = records[-1].offset + 1
        return ends
    finally:
        await reader.stop()


async def commit_router(settings: HubSettings, offsets: dict[int, int]) -> None:
    """The router handled (and committed) this far, then stopped."""
    consumer = make_consumer(settings, group_id=ROUTER_GROUP, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = {TopicPartition(TOPIC, p): o for p, o in offsets.items()}
        consumer.assign(list(parts))
        await consumer.commit(parts)
    finally:
        await consumer.stop()


async def test_a_backlog_behind_a_stopped_router_is_not_republished(
    hub_settings: HubSettings, wiring: Wiring, producer: AIOKafkaProducer
) -> None:
    settings = hub_settings.model_copy(update={"reconcile_grace_s": 0})
    journal = JournalStore(make_engine(settings.effective_database_url))
    publisher = EventPublisher(
        AiokafkaSender(producer), wiring.codec, wiring.names, journal, keys=record_keys(settings)
    )
    receipts = await publisher.publish_many([move(f"evt-{i}", f"P-{i}", i) for i in range(40)])
    before = await end_offsets(settings)
    assert sum(before.values()) == 40
    # The router got through the first half of each partition, and no further.
    committed = {p: n // 2 for p, n in before.items()}
    await commit_router(settings, committed)
    passed = sorted(r.event_id for r in receipts if r.offset < committed[r.partition])
    assert 0 < len(passed) < 40

    reconciler = Reconciler(journal, settings, record_keys(settings))
    try:
        # The events the router passed without routing are lost: re-published, nothing else.
        assert await reconciler.run_once(producer) == len(passed)
        after = await end_offsets(settings)
        assert sum(after.values()) == 40 + len(passed)
        entries = {e.event_id: e for e in journal.accepted_since(SINCE)}
        assert sorted(k for k, e in entries.items() if e.republished) == passed
        # ...and their new copies are where the journal now points: behind the router, waiting
        for event_id in passed:
            entry = entries[event_id]
            assert entry.kafka_partition is not None and entry.kafka_offset is not None
            assert entry.kafka_offset >= before[entry.kafka_partition]
        # The next round finds nothing lost: the backlog (old and re-published) waits its turn.
        assert await reconciler.run_once(producer) == 0
        assert await end_offsets(settings) == after
    finally:
        await reconciler.positions.stop()


async def test_events_the_broker_no_longer_holds_are_republished(
    hub_settings: HubSettings, wiring: Wiring, producer: AIOKafkaProducer
) -> None:
    """A broker with memory storage restarted: the journal's offsets are past the log end."""
    settings = hub_settings.model_copy(update={"reconcile_grace_s": 0})
    journal = JournalStore(make_engine(settings.effective_database_url))
    publisher = EventPublisher(
        AiokafkaSender(producer), wiring.codec, wiring.names, journal, keys=record_keys(settings)
    )
    receipts = await publisher.publish_many([move(f"evt-{i}", f"P-{i}", i) for i in range(6)])
    # as if the broker had lost them: the journal says they were written far past the log end
    journal.placed(
        [Placement("council-tax", r.event_id, r.partition, 1_000 + r.offset) for r in receipts]
    )
    reconciler = Reconciler(journal, settings, record_keys(settings))
    try:
        assert await reconciler.run_once(producer) == 6
    finally:
        await reconciler.positions.stop()
