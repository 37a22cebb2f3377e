"""The faust-streaming application: settings tuned for low latency and batching, agents attached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from hub.broker.topics import TopicNames
from hub.config.model import HubConfig
from hub.events.codec import AvroCodec
from hub.settings import HubSettings

APP_ID = "tell-it-once-hub"


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # faust hard-codes a 1,500 ms fetch wait; the hub makes it a setting (latency per hop).
        consumer._fetch_max_wait_ms = self.app.conf.hub_fetch_wait_ms
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class HubFaustApp(faust.App):
    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self, loop=self.loop)


@dataclass(frozen=True)
class WorkerDeps:
    """What the agents need, built once by the composition root."""

    settings: HubSettings
    config: HubConfig
    codec: AvroCodec
    names: TopicNames
    event_types: frozenset[str]


def make_faust_app(settings: HubSettings, bootstrap: str) -> HubFaustApp:
    app = HubFaustApp(
        APP_ID,
        broker=[f"kafka://{b}" for b in bootstrap.split(",")],
        key_serializer="raw",
        value_serializer="raw",
        broker_session_timeout=settings.broker_session_timeout_s,
        broker_heartbeat_interval=min(2.0, settings.broker_session_timeout_s / 3),
        broker_request_timeout=max(90.0, settings.broker_session_timeout_s * 2),
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        producer_linger=settings.producer_linger_ms / 1000.0,
        producer_max_batch_size=settings.producer_batch_bytes,
        producer_acks=-1,
        stream_wait_empty=False,
        datadir=str(settings.data_dir / "faust"),
        store="memory://",
        web_enabled=False,
    )
    app.conf.hub_fetch_wait_ms = settings.consumer_fetch_wait_ms
    return app
