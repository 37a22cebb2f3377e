"""One way to build a Kafka consumer: the settings' bootstrap and security, the caller's tuning."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer

from hub.broker.security import kafka_client_kwargs
from hub.settings import HubSettings


def make_consumer(
    settings: HubSettings, *topics: str, bootstrap: str | None = None, **options: Any
) -> AIOKafkaConsumer:
    """An AIOKafkaConsumer for `topics` (none: assign partitions later); `options` as aiokafka's."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap or settings.require_bootstrap("the Kafka consumer"),
        **options,
        **kafka_client_kwargs(settings),
    )
