"""`hub deliveries retry`: a retried item routed straight back to the queue stays in the queue."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine

import runtime.review
from hub.broker.admin import ensure_topics
from hub.broker.embedded import EmbeddedBroker
from hub.broker.producer import make_producer
from hub.broker.topics import TopicSpec
from hub.review.store import ReviewStore
from hub.settings import HubSettings
from tests.integration.test_subject_store import review


@pytest.mark.parametrize("migrated_engine", ["sqlite"], indirect=True)
def test_an_item_requeued_while_the_retry_is_still_publishing_stays_open(
    migrated_engine: Engine,
    broker: EmbeddedBroker,
    settings: HubSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = ReviewStore(migrated_engine)
    store.add([review("e-1")])
    [item] = store.find()
    asyncio.run(ensure_topics(settings, [TopicSpec(item.topic, 1, 1)], broker.bootstrap))

    class RouterIsFast:
        """A real producer; once the broker has the record, the router (still no link) queues it
        again before the retry command has finished, as a worker on a busy machine does."""

        def __init__(self, producer: AIOKafkaProducer) -> None:
            self.producer = producer

        async def start(self) -> None:
            await self.producer.start()

        async def send(self, *args: Any, **kwargs: Any) -> Any:
            acked = await self.producer.send(*args, **kwargs)
            await acked
            store.add([review("e-1")])
            return acked

        async def stop(self) -> None:
            await self.producer.stop()

    monkeypatch.setattr(
        runtime.review, "make_producer", lambda s, b: RouterIsFast(make_producer(s, b))
    )
    asyncio.run(runtime.review.retry(settings, broker.bootstrap, store, item.seq))
    assert [(i.event_id, i.status) for i in store.find()] == [("e-1", "open")]


@pytest.mark.parametrize("migrated_engine", ["sqlite"], indirect=True)
def test_an_item_not_published_stays_open(migrated_engine: Engine, settings: HubSettings) -> None:
    store = ReviewStore(migrated_engine)
    store.add([review("e-1")])
    [item] = store.find()
    with pytest.raises(Exception):  # noqa: B017 - nothing listens on this port
        asyncio.run(runtime.review.retry(settings, "127.0.0.1:1", store, item.seq))
    assert [(i.event_id, i.status) for i in store.find()] == [("e-1", "open")]
