"""One way to build a Kafka producer, tuned by settings (batched, acks=all, not idempotent)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from hub.broker.admin import unreachable
from hub.broker.security import kafka_client_kwargs
from hub.settings import HubSettings


def make_producer(settings: HubSettings, bootstrap: str) -> AIOKafkaProducer:
    # Idempotent/transactional producers are not used: at-least-once with stable ids and
    # idempotent consumers (unique keys) instead, which works on every Kafka-protocol broker.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=settings.producer_linger_ms,
        max_batch_size=settings.producer_batch_bytes,
        enable_idempotence=False,
        **kafka_client_kwargs(settings),
    )


async def start_producer(
    settings: HubSettings, bootstrap: str | None = None, timeout: float = 30.0
) -> AIOKafkaProducer:
    """A started producer, or a BrokerError saying why Kafka refused it (bounded by `timeout`)."""
    bootstrap = bootstrap or settings.require_bootstrap("the producer")
    producer = make_producer(settings, bootstrap)
    try:
        await asyncio.wait_for(producer.start(), timeout)
    except (KafkaError, OSError, TimeoutError) as exc:
        await producer.stop()
        raise await unreachable(settings, bootstrap, exc) from exc
    return producer


class AiokafkaSender:
    """Adapts aiokafka's producer to the publisher's narrow RecordSender interface."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: Sequence[tuple[str, bytes]]
    ) -> Awaitable[Any]:
        fut: Awaitable[Any] = await self._producer.send(
            topic, value=value, key=key, headers=list(headers)
        )
        return fut
