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


def should_rest(quiet_for_s: float, rest_after_s: float) -> bool:
    """Whether an agent that has found nothing to consume for `quiet_for_s` stops fetching for a
    while (HUB_CONSUMER_REST_AFTER_S; 0: never). On the embedded broker an idle consumer's
    fetches are most of an idle hub's CPU: each one is answered only when its wait is over."""
    return rest_after_s > 0 and quiet_for_s >= rest_after_s
