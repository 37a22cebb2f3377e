"""The topics the hub uses, their partition counts, and creating them explicitly."""

from __future__ import annotations

from dataclasses import dataclass

from hub.config.model import HubConfig, KafkaSink, Role


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int


@dataclass(frozen=True)
class TopicNames:
    prefix: str = ""

    def events(self, event_type: str) -> str:
        return f"{self.prefix}events.{event_type}"

    def sources(self, system_id: str) -> str:
        """A Kafka-native source's own topic: only that system's principal may write to it
        (Kafka ACL), and the router takes the source from the topic, never from `ce_source`."""
        return f"{self.prefix}sources.{system_id}"

    def deliveries(self, recipient: str) -> str:
        return f"{self.prefix}deliveries.{recipient}"

    @property
    def rejected(self) -> str:
        return f"{self.prefix}events.rejected"

    @property
    def audit(self) -> str:
        return f"{self.prefix}audit"

    def recipient_topic(self, recipient: str, topic: str | None = None) -> str:
        """A Kafka-sink recipient's own topic: as configured, else `recipient.<id>`."""
        return topic or f"{self.prefix}recipient.{recipient}"

    @property
    def dead_letters(self) -> str:
        """Deliveries given up on after the retry budget (webhooks)."""
        return f"{self.prefix}dead-letters.deliveries"


def topic_plan(
    names: TopicNames,
    config: HubConfig,
    event_types: frozenset[str],
    partitions: int,
    replication: int,
) -> tuple[TopicSpec, ...]:
    """Every topic the hub reads or writes. The audit topic has one partition: one ordered trail."""
    specs = [TopicSpec(names.events(t), partitions, replication) for t in sorted(event_types)]
    specs += [TopicSpec(names.sources(s), partitions, replication) for s in source_systems(config)]
    specs += [TopicSpec(names.deliveries(s.id), partitions, replication) for s in config.recipients]
    specs.append(TopicSpec(names.rejected, partitions, replication))
    specs.append(TopicSpec(names.audit, 1, replication))
    specs.append(TopicSpec(names.dead_letters, partitions, replication))
    specs += [
        TopicSpec(names.recipient_topic(s.id, s.delivery.topic), partitions, replication)
        for s in config.recipients
        if isinstance(s.delivery, KafkaSink)
    ]
    return tuple(specs)


def source_systems(config: HubConfig) -> list[str]:
    return [s.id for s in config.systems if Role.SOURCE in s.roles]


def source_topics(names: TopicNames, config: HubConfig) -> dict[str, str]:
    """Each Kafka-native source topic -> the one system allowed to publish on it."""
    return {names.sources(s): s for s in source_systems(config)}
