"""`hub kafka acls`: every topic of the plan is covered, each principal gets only what it uses."""

from __future__ import annotations

import shlex
from pathlib import Path

from hub.broker.topics import TopicNames, source_systems, topic_plan
from hub.config.loader import load_config
from hub.config.model import HubConfig
from hub.events.schemas import SchemaRegistry
from runtime.kafka_acls import Acl, Principals, acl_commands, hub_acls
from tests.unit.test_sink_config import set_waste_delivery

P = Principals()


def kafka_sink_config(config_copy: Path, registry: SchemaRegistry) -> HubConfig:
    set_waste_delivery(config_copy, "\n    delivery:\n      kind: kafka")
    return load_config(config_copy, registry)


def grants(acls: list[Acl], principal: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for acl in acls:
        if acl.principal == principal and acl.resource == "topic" and acl.pattern == "literal":
            found.setdefault(acl.name, set()).update(acl.operations)
    return found


def test_acls_cover_every_topic_of_the_plan(config_copy: Path, registry: SchemaRegistry) -> None:
    config = kafka_sink_config(config_copy, registry)
    names = TopicNames("council-a.")
    plan = topic_plan(names, config, registry.event_types, 4, 3)
    acls = hub_acls(names, config, registry.event_types, P)

    worker = grants(acls, P.worker)
    assert set(worker) == {s.name for s in plan}  # no topic the worker uses is left out
    assert all(ops == {"Create", "Describe", "Read", "Write"} for ops in worker.values())

    api = grants(acls, P.api)
    assert set(api) == {s.name for s in plan}  # it can see every topic (readiness, lag)
    writable = {t for t, ops in api.items() if "Write" in ops}
    assert writable == {names.events(t) for t in registry.event_types} | {names.rejected}
    assert not any("Read" in ops for ops in api.values())

    connector = grants(acls, P.connector)
    assert set(connector) == {names.events(t) for t in registry.event_types}
    assert not any("Read" in ops for ops in connector.values())

    # each Kafka-native source may write its own topic only: it cannot claim another's ce_source
    registrar = grants(acls, "User:source-registrar")
    assert registrar == {"council-a.sources.registrar": {"Describe", "Write"}}
    sources = {a.principal for a in acls if a.principal.startswith("User:source-")}
    assert sources == {f"User:source-{s}" for s in source_systems(config)}

    # the Kafka-sink recipient reads its own topic and nothing else
    waste = grants(acls, "User:recipient-waste")
    assert waste == {"council-a.recipient.waste": {"Describe", "Read"}}
    assert Acl("User:recipient-waste", "group", "waste", ("Describe", "Read"), "prefixed") in acls
    assert not [
        a for a in acls if a.principal.startswith("User:recipient-") and "waste" not in a.principal
    ]


def test_worker_and_api_groups(config: HubConfig, registry: SchemaRegistry) -> None:
    acls = hub_acls(TopicNames(), config, registry.event_types, P)
    groups = {(a.principal, a.name, a.pattern, a.operations) for a in acls if a.resource == "group"}
    assert groups == {
        (P.worker, "tell-it-once-hub", "prefixed", ("Describe", "Read")),
        (P.api, "tell-it-once-hub", "prefixed", ("Describe",)),
    }
    # the worker's faust app opens no Kafka client: no prefixed topic (faust's own) is granted
    assert [a for a in acls if a.pattern == "prefixed" and a.resource == "topic"] == []


def test_commands_are_kafka_acls_invocations() -> None:
    acl = Acl("User:hub run api", "topic", "events.x", ("Write", "Describe"))
    [line] = acl_commands([acl], "$KAFKA_BOOTSTRAP", "admin.properties")
    assert line.startswith("kafka-acls.sh --bootstrap-server $KAFKA_BOOTSTRAP ")
    words = shlex.split(line.replace("$KAFKA_BOOTSTRAP", "b:9093"))
    assert words == [
        "kafka-acls.sh",
        "--bootstrap-server",
        "b:9093",
        "--command-config",
        "admin.properties",
        "--add",
        "--allow-principal",
        "User:hub run api",
        "--operation",
        "Write",
        "--operation",
        "Describe",
        "--topic",
        "events.x",
        "--resource-pattern-type",
        "literal",
    ]
