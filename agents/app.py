"""The faust-streaming application that hosts the hub's agents (lifecycle, signals, timers)."""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.app.base import BootStrategy

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


class AgentsOnlyBoot(BootStrategy):
    """faust runs the worker's lifecycle (signals, timers, the batch agents as tasks) and no Kafka
    client of its own: the agents consume and produce through their own aiokafka clients. faust's
    consumer would join a group of its own, holding the tasks back until that group formed (about
    3 s on the embedded broker, the agents then joining theirs for as long again), and would then
    fetch and heartbeat for nothing as long as the worker runs."""

    enable_kafka = False


def make_faust_app(settings: HubSettings) -> faust.App:
    app = faust.App(
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
    app.boot_strategy = AgentsOnlyBoot(app)
    return app
