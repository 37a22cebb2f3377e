"""The composition root's shared wiring: settings + config + codec + stores, built once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine

from hub.audit.store import AuditStore
from hub.broker.topics import TopicNames, TopicSpec, topic_plan
from hub.config.loader import load_config
from hub.config.model import HubConfig, KafkaSink
from hub.db.engine import make_engine, migrate, open_existing
from hub.delivery.kafka_record import delivery_schemas
from hub.events.codec import AvroCodec
from hub.events.gazetteer import Gazetteer
from hub.events.rules import RuleConfig
from hub.events.schema_registry_client import (
    register_versions,
    registry_client,
    with_registry_ids,
)
from hub.events.schemas import SchemaRegistry
from hub.heartbeat import HeartbeatStore
from hub.inbox.store import InboxStore
from hub.quality.counters import QualityCounters
from hub.rejected.store import RejectedStore
from hub.review.store import ReviewStore
from hub.settings import HubSettings
from hub.subjects.store import SubjectStore


@dataclass(frozen=True)
class Wiring:
    settings: HubSettings
    registry: SchemaRegistry
    config: HubConfig
    codec: AvroCodec
    names: TopicNames
    rules: RuleConfig
    delivery_schema_id: int | None = None  # given by HUB_SCHEMA_REGISTRY_URL's registry

    def topics(self) -> tuple[TopicSpec, ...]:
        return topic_plan(
            self.names,
            self.config,
            self.registry.event_types,
            self.settings.topic_partitions,
            self.settings.topic_replication,
        )


def wire(settings: HubSettings) -> Wiring:
    """Load schemas and configuration; raises ConfigError with every problem found."""
    registry = SchemaRegistry.from_dir(settings.schema_dir)
    config = load_config(settings.config_dir, registry)
    names = TopicNames(settings.topic_prefix)
    delivery_schema_id = None
    if settings.schema_registry_url:  # every schema the hub writes with, registered there
        client = registry_client(settings)
        subjects = {t: f"{names.events(t)}-value" for t in registry.event_types}
        registry = with_registry_ids(registry, client, subjects)
        delivery_schema_id = register_versions(
            client,
            [raw for _, raw in delivery_schemas(settings.schema_dir)],
            [
                f"{names.recipient_topic(s.id, s.delivery.topic)}-value"
                for s in config.recipients
                if isinstance(s.delivery, KafkaSink)
            ],
        )
    gazetteer = Gazetteer.from_csv(settings.gazetteer_csv) if settings.gazetteer_csv else None
    rules = RuleConfig(
        settings.effective_date_past_days, settings.effective_date_future_days, gazetteer
    )
    return Wiring(settings, registry, config, AvroCodec(registry), names, rules, delivery_schema_id)


@dataclass(frozen=True)
class Stores:
    engine: Engine
    audit: AuditStore
    inbox: InboxStore
    heartbeat: HeartbeatStore
    rejected: RejectedStore
    quality: QualityCounters
    subjects: SubjectStore
    review: ReviewStore


SchemaMode = Literal["create", "upgrade", "read"]


def database_setting(settings: HubSettings) -> str:
    """The setting that names the database: HUB_DATABASE_URL when set, else HUB_DATA_DIR."""
    return "HUB_DATABASE_URL" if settings.database_url else "HUB_DATA_DIR"


def open_stores(settings: HubSettings, schema: SchemaMode = "read") -> Stores:
    """The stores on the hub's database.

    `read` (every command that reads or administers an existing hub): the database must exist
    and be at the newest migration, else DatabaseNotReady naming it, the setting and what to
    do; nothing is created. `upgrade` (the API, connectors): it must exist; a schema behind is
    migrated. `create` (`hub init`, `hub up`, the worker): created and migrated as needed.
    """
    url = settings.effective_database_url
    if schema == "create":
        engine = make_engine(url, settings.db_busy_timeout_s)
        migrate(engine)
    else:
        engine = open_existing(
            url, database_setting(settings), settings.db_busy_timeout_s, upgrade=schema == "upgrade"
        )
    return Stores(
        engine,
        AuditStore(engine),
        InboxStore(engine),
        HeartbeatStore(engine),
        RejectedStore(engine),
        QualityCounters(engine),
        SubjectStore(engine, settings.pseudonym_key.get_secret_value()),
        ReviewStore(engine),
    )
