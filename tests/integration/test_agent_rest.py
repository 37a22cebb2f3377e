"""An agent with nothing to consume rests (stops fetching) and still takes every record after.

On the embedded broker an idle consumer's fetches are most of an idle hub's CPU (each is answered
only when its wait is over); a resting agent pauses its partitions and looks once every
HUB_CONSUMER_REST_MS. What must hold: nothing is lost or handled twice across rests, and a record
that arrives while the agent rests is handled within a rest and a look.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from aiokafka import ConsumerRecord

from agents.batching import BatchAgent, OutRecord
from hub.broker.admin import ensure_topics
from hub.broker.embedded import EmbeddedBroker
from hub.broker.producer import start_producer
from hub.broker.topics import TopicSpec
from hub.settings import HubSettings
from tests.waiting import wait_for_async

TOPIC = "rest.test"
PARTITIONS = 4


class Seen:
    """The handler: the values it was given, and when."""

    def __init__(self) -> None:
        self.values: list[bytes] = []
        self.at: dict[bytes, float] = {}

    async def __call__(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[OutRecord]:
        for r in records:
            self.values.append(r.value)
            self.at.setdefault(r.value, time.monotonic())
        return []


async def test_a_resting_agent_pauses_fetching_and_loses_nothing(
    broker: EmbeddedBroker, settings: HubSettings
) -> None:
    settings = settings.model_copy(
        update={
            "kafka_bootstrap": broker.bootstrap,
            "consumer_rest_after_s": 0.5,
            "consumer_rest_ms": 400,
        }
    )
    await ensure_topics(settings, [TopicSpec(TOPIC, PARTITIONS, 1)])
    producer = await start_producer(settings)
    seen = Seen()
    agent = BatchAgent("rest-test", [TOPIC], seen, settings)
    task = asyncio.create_task(agent.run(producer))
    try:
        # a first record: the agent is awake and handles it
        await producer.send_and_wait(TOPIC, b"first", partition=0)
        await wait_for_async(lambda: b"first" in seen.values, "the first record", 60)
        # then nothing: it rests, every partition it holds paused in turn
        await wait_for_async(
            lambda: agent.consumer is not None and len(agent.consumer.paused()) == PARTITIONS,
            "the idle agent to pause its partitions",
            10,
        )
        # records arriving while it rests, on every partition, each once
        sent_at = {}
        for i in range(20):
            value = f"later-{i}".encode()
            await producer.send_and_wait(TOPIC, value, partition=i % PARTITIONS)
            sent_at[value] = time.monotonic()
        await wait_for_async(
            lambda: len(seen.values) >= 21, lambda: f"21 records; only {len(seen.values)} came", 30
        )
        await asyncio.sleep(1.5)  # more rests: nothing comes twice
        assert sorted(seen.values) == sorted([b"first", *sent_at])
        # within a rest and a look of its arrival (the fetch wait, and generous slack for CI)
        slowest = max(seen.at[v] - t for v, t in sent_at.items())
        assert slowest < 0.4 + 5.0, f"a record waited {slowest:.1f} s after a rest"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
