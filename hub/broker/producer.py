"""One way to build a Kafka producer, tuned by settings (batched, acks=all, not idempotent)."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

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
    )


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
