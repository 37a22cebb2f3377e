"""The faust-streaming application that hosts the hub's agents (lifecycle, signals, timers)."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from agents.batching import APP_ID
from hub.broker.security import kafka_security
from hub.broker.topics import TopicNames
from hub.config.model import HubConfig
from hub.events.codec import AvroCodec
from hub.events.rules import RuleConfig
from hub.settings import HubSettings
from hub.signing.records import RecordKeys


@dataclass(frozen=True)
class WorkerDeps:
    """What the agents need, built once by the composition root."""

    settings: HubSettings
    config: HubConfig
    codec: AvroCodec
    names: TopicNames
    event_types: frozenset[str]
    rules: RuleConfig
    keys: RecordKeys  # signs what the agents write on internal topics; verifies what they read


def make_faust_app(settings: HubSettings) -> faust.App:
    return faust.App(
        APP_ID,
        broker=[f"kafka://{b}" for b in settings.kafka_bootstrap.split(",")],
        broker_credentials=kafka_security(settings).faust_credentials(),
        broker_session_timeout=settings.broker_session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        broker_request_timeout=max(90.0, settings.broker_session_timeout_s * 2),
        topic_allow_declare=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        datadir=str(settings.data_dir / "faust"),
        store="memory://",
        web_enabled=False,
    )
