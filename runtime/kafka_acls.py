"""`hub kafka acls`: the Kafka ACLs each hub principal needs, as `kafka-acls.sh` commands.

Generated from the configuration (the same topic plan `hub init` creates), so a deployment can
lock every principal down to what it uses:

- the API (`hub run api`): writes events.<type> and events.rejected; describes the internal topics
  and the worker's consumer groups (readiness and the consumer lag in /metrics);
- the worker (`hub run worker`, and the operator commands that re-publish: `hub deliveries replay`,
  `hub deliveries retry`, `hub events replay`, `hub deliveries redrive`): creates, reads and writes
  every topic in the plan, and its agents' consumer groups `tell-it-once-hub.*` (its faust app
  opens no Kafka client);
- each source connector (`hub run connectors`, `hub connectors import`): creates and writes events.<type>;
- each Kafka-sink recipient: reads its own topic only, in consumer groups named after it.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from hub.broker.topics import TopicNames, TopicSpec, source_topics, topic_plan
from hub.config.model import HubConfig, KafkaSink

Resource = Literal["topic", "group"]
Pattern = Literal["literal", "prefixed"]


@dataclass(frozen=True, order=True)
class Acl:
    """Allow `principal` the `operations` on one resource (a name, or every name with a prefix)."""

    principal: str
    resource: Resource
    name: str
    operations: tuple[str, ...]
    pattern: Pattern = "literal"


@dataclass(frozen=True)
class Principals:
    api: str = "User:hub-api"
    worker: str = "User:hub-worker"
    connector: str = "User:hub-connector"
    recipient: str = "User:recipient-{recipient}"  # {recipient}: the recipient's system id
    source: str = "User:source-{source}"  # {source}: a Kafka-native source system's id


def hub_acls(
    names: TopicNames,
    config: HubConfig,
    event_types: frozenset[str],
    principals: Principals,
    partitions: int = 1,
    replication: int = 1,
) -> list[Acl]:
    """Every ACL the hub's principals need, least privilege, from the topic plan."""
    from agents.batching import APP_ID  # loaded only here: `hub --help` stays quick

    plan: Sequence[TopicSpec] = topic_plan(names, config, event_types, partitions, replication)
    events = [names.events(t) for t in sorted(event_types)]
    acls: list[Acl] = []
    # the API publishes events (and rejections), and reads metadata and group offsets
    for topic in [*events, names.rejected]:
        acls.append(Acl(principals.api, "topic", topic, ("Write", "Describe")))
    for spec in plan:
        if spec.name not in events and spec.name != names.rejected:
            acls.append(Acl(principals.api, "topic", spec.name, ("Describe",)))
    acls.append(Acl(principals.api, "group", APP_ID, ("Describe",), "prefixed"))
    # the worker: every topic of the plan (it creates them at start) and its agents' groups (its
    # faust app opens no Kafka client: no topic or group of faust's own)
    for spec in plan:
        acls.append(
            Acl(principals.worker, "topic", spec.name, ("Create", "Describe", "Read", "Write"))
        )
    acls.append(Acl(principals.worker, "group", APP_ID, ("Describe", "Read"), "prefixed"))
    # source connectors publish events of any configured type
    for topic in events:
        acls.append(Acl(principals.connector, "topic", topic, ("Create", "Describe", "Write")))
    # a Kafka-native source writes its own topic, nothing else: ce_source cannot be claimed
    for topic, system_id in source_topics(names, config).items():
        principal = principals.source.format(source=system_id)
        acls.append(Acl(principal, "topic", topic, ("Describe", "Write")))
    # a Kafka-sink recipient reads its own topic, nothing else
    for system in config.recipients:
        if isinstance(system.delivery, KafkaSink):
            principal = principals.recipient.format(recipient=system.id)
            topic = names.recipient_topic(system.id, system.delivery.topic)
            acls.append(Acl(principal, "topic", topic, ("Describe", "Read")))
            acls.append(Acl(principal, "group", system.id, ("Describe", "Read"), "prefixed"))
    return acls


def acl_commands(
    acls: Iterable[Acl], bootstrap: str, command_config: str | None = None
) -> list[str]:
    """One `kafka-acls.sh --add` command per ACL (idempotent: adding an existing ACL is a no-op)."""
    base = ["kafka-acls.sh", "--bootstrap-server", bootstrap]
    if command_config:
        base += ["--command-config", command_config]
    commands = []
    for acl in acls:
        words = [*base, "--add", "--allow-principal", acl.principal]
        for operation in acl.operations:
            words += ["--operation", operation]
        words += [f"--{acl.resource}", acl.name, "--resource-pattern-type", acl.pattern]
        # an environment variable ($KAFKA_BOOTSTRAP) stays unquoted so the shell expands it
        commands.append(" ".join(w if w.startswith("$") else shlex.quote(w) for w in words))
    return commands
