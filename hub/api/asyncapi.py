"""The AsyncAPI 3.0 document of the hub's Kafka side, served at `/asyncapi.json`.

Topics (channels), what is on them (messages: key, CloudEvents headers, the Avro schema of the
value, Confluent wire format with the schema id in the payload), and who sends and receives
(operations). Built from the same registry, topic names and configuration the hub runs with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hub.broker.topics import TopicNames
from hub.config.model import HubConfig, KafkaSink
from hub.delivery.shape import DeliveryMessage
from hub.events.cloudevents import (
    AUDIT_SCHEMA,
    DELIVERY_SCHEMA,
    HUB_SOURCE,
    JSON,
    ORIGINAL_B64_PREFIX,
    ORIGINAL_PREFIX,
    REJECTED_SCHEMA,
    ROUTED_SCHEMA,
    SPECVERSION,
)
from hub.events.schemas import SchemaRegistry
from hub.routing.messages import AuditEntry, Delivery

AVRO = "application/vnd.apache.avro+json;version=1.9.0"
KAFKA_BINDING = "0.5.0"


def _key(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


SIGNATURE_HEADERS: dict[str, Any] = {
    "hub_sig": {"type": "string", "description": "HMAC-SHA256 of the record (hex): the hub's own"},
    "hub_sig_kid": {"type": "string", "description": "The id of the key that signed it"},
}


def _ce_headers(
    source: str,
    content_type: str | None,
    extra: dict[str, Any] | None = None,
    *,
    ce_id: str = "The event id (events) or message id (deliveries)",
    dataschema: str | None = None,
    subject: str | None = "The hub person id (= the key)",
    time: str = "When the event happened",
    signed: bool = False,
) -> dict[str, Any]:
    """The headers of one kind of record: what `hub.events.cloudevents.headers` writes."""
    properties: dict[str, Any] = {
        "ce_specversion": {"type": "string", "const": SPECVERSION},
        "ce_id": {"type": "string", "description": ce_id},
        "ce_source": {"type": "string", "description": source},
        "ce_type": {
            "type": "string",
            "description": "The event type the record is about, e.g. address.changed (the same "
            "scheme on every topic)",
        },
        "ce_time": {"type": "string", "format": "date-time", "description": time},
        "ce_dataschema": (
            {"type": "string", "const": dataschema}
            if dataschema
            else {"type": "string", "description": "urn:tellitonce:schema:<type>:v<n>"}
        ),
        "content-type": (
            {"type": "string", "const": content_type}
            if content_type
            else {"type": "string", "description": "The rejected record's own content type"}
        ),
        **(extra or {}),
        **(SIGNATURE_HEADERS if signed else {}),
    }
    if subject:
        properties["ce_subject"] = {"type": "string", "description": subject}
    return {
        "type": "object",
        "description": "CloudEvents 1.0, Kafka protocol binding, binary content mode",
        "properties": properties,
        "required": [
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_time",
            "content-type",
            *(["ce_dataschema"] if dataschema else []),
            *(SIGNATURE_HEADERS if signed else []),
        ],
    }


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name)


def asyncapi_document(
    registry: SchemaRegistry,
    names: TopicNames,
    config: HubConfig,
    schema_dir: Path,
    version: str,
) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    wire = {
        "kafka": {
            "bindingVersion": KAFKA_BINDING,
            "schemaIdLocation": "payload",
            "schemaIdPayloadEncoding": "confluent",
        }
    }
    for event_type in sorted(registry.event_types):
        latest = registry.latest(event_type)
        message_id = _safe(f"event_{event_type}")
        messages[message_id] = {
            "name": event_type,
            "title": f"{event_type} event (v{latest.version}, schema id {latest.schema_id})",
            "contentType": "application/avro",
            "headers": _ce_headers(
                "The source system (a system id)",
                "application/avro",
                SIGNATURE_HEADERS,  # on events.<type> (the hub wrote it), not on sources.<id>
            ),
            "payload": {"schemaFormat": AVRO, "schema": latest.raw},
            "bindings": {
                "kafka": {
                    **wire["kafka"],
                    "key": _key("The hub person id: every change about one person in order"),
                }
            },
        }
        channel_id = _safe(f"events_{event_type}")
        channels[channel_id] = {
            "address": names.events(event_type),
            "title": f"{event_type} events",
            "description": "What source systems publish (over HTTP, files, SQL or straight onto "
            "Kafka). Confluent wire format: magic byte 0, the 4-byte schema id, the Avro body.",
            "messages": {message_id: {"$ref": f"#/components/messages/{message_id}"}},
        }
        operations[_safe(f"publish_{event_type}")] = {
            "action": "send",
            "title": f"A source publishes {event_type}",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{message_id}"}],
        }
    delivery_raw = json.loads((schema_dir / "delivery.v2.avsc").read_text())
    messages["delivery"] = {
        "name": "delivery",
        "title": "A delivery (contract v2, schema id 1002)",
        "summary": "The same object as the webhook body and the inbox item; data typed per "
        "event type (null where the agreement withholds a field).",
        "contentType": "application/avro",
        "headers": _ce_headers(
            HUB_SOURCE,
            "application/avro",
            ce_id="The message id (= delivery_id in the body): de-duplicate on it",
            dataschema=DELIVERY_SCHEMA,
        ),
        "payload": {"schemaFormat": AVRO, "schema": delivery_raw},
        "bindings": {"kafka": {**wire["kafka"], "key": _key("The hub person id (subject)")}},
    }
    message_schema = DeliveryMessage.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = message_schema.pop("$defs", {})
    messages["deadLetter"] = {
        "name": "dead-letter",
        "title": "A webhook delivery that spent its retry budget",
        "contentType": "application/json",
        "headers": _ce_headers(
            HUB_SOURCE,
            JSON,
            {
                "ce_recipient": {"type": "string", "description": "The recipient (system id)"},
                "ce_deadletterreason": {"type": "string", "description": "The last error"},
            },
            ce_id="The message id (= delivery_id in the body)",
            dataschema=DELIVERY_SCHEMA,
            signed=True,
        ),
        "payload": {"$ref": "#/components/schemas/DeliveryMessage"},
        "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING, "key": _key("The hub person id")}},
    }
    recipients = [s for s in config.recipients if isinstance(s.delivery, KafkaSink)]
    for system in recipients:
        assert isinstance(system.delivery, KafkaSink)
        channel_id = _safe(f"recipient_{system.id}")
        channels[channel_id] = {
            "address": names.recipient_topic(system.id, system.delivery.topic),
            "title": f"Deliveries to {system.id}",
            "description": "Only the updates this recipient's agreements allow.",
            "messages": {"delivery": {"$ref": "#/components/messages/delivery"}},
        }
        operations[_safe(f"receive_{system.id}")] = {
            "action": "receive",
            "title": f"{system.id} receives its deliveries",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/delivery"}],
        }
    channels["recipient_topic"] = {
        "address": names.recipient_topic("{recipient}"),
        "title": "A Kafka recipient's own topic (default name)",
        "description": "recipient.<system id>, unless the recipient's `delivery.topic` names another.",
        "parameters": {"recipient": {"description": "The recipient's system id"}},
        "messages": {"delivery": {"$ref": "#/components/messages/delivery"}},
    }
    operations["receive_deliveries"] = {
        "action": "receive",
        "title": "A Kafka recipient receives its deliveries",
        "channel": {"$ref": "#/channels/recipient_topic"},
        "messages": [{"$ref": "#/channels/recipient_topic/messages/delivery"}],
    }
    channels["dead_letters"] = {
        "address": names.dead_letters,
        "title": "Webhook dead letters (for operators)",
        "messages": {"deadLetter": {"$ref": "#/components/messages/deadLetter"}},
    }
    operations["receive_dead_letters"] = {
        "action": "receive",
        "title": "Operators read dead letters",
        "channel": {"$ref": "#/channels/dead_letters"},
        "messages": [{"$ref": "#/channels/dead_letters/messages/deadLetter"}],
    }
    internal_schemas = _internal_topics(names, channels, operations, messages)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Tell-It-Once Hub: Kafka",
            "version": version,
            "description": "The Kafka side of the hub: the topics sources publish to and the "
            "topics recipients read. Schemas by id: the hub API's /schemas/ids/{id} "
            "(Confluent Schema Registry API) when no external registry is configured.",
        },
        "defaultContentType": "application/avro",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {"DeliveryMessage": message_schema, **defs, **internal_schemas},
        },
    }


def _internal_topics(
    names: TopicNames,
    channels: dict[str, Any],
    operations: dict[str, Any],
    messages: dict[str, Any],
) -> dict[str, Any]:
    """The topics the hub writes for itself (signed; its own agents read them), in the same
    CloudEvents envelope. Returns the JSON schemas their messages refer to."""
    schemas: dict[str, Any] = {}
    for model in (Delivery, AuditEntry):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    messages["routedDelivery"] = {
        "name": "routed-delivery",
        "title": "A delivery the router decided (internal: the delivery agent reads it)",
        "contentType": JSON,
        "headers": _ce_headers(
            HUB_SOURCE,
            JSON,
            ce_id="The id of the message the recipient will get",
            dataschema=ROUTED_SCHEMA,
            signed=True,
        ),
        "payload": {"$ref": "#/components/schemas/Delivery"},
        "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING, "key": _key("The hub person id")}},
    }
    messages["auditEntry"] = {
        "name": "audit-entry",
        "title": "One decision or delivery attempt for the audit trail (never the values)",
        "contentType": JSON,
        "headers": _ce_headers(
            HUB_SOURCE,
            JSON,
            ce_id="The audit entry id (entry_id)",
            dataschema=AUDIT_SCHEMA,
            subject=None,
            time="When it was decided or attempted",
            signed=True,
        ),
        "payload": {"$ref": "#/components/schemas/AuditEntry"},
        "bindings": {
            "kafka": {
                "bindingVersion": KAFKA_BINDING,
                "key": _key("The pseudonymous person key (subject_key)"),
            }
        },
    }
    rejected_headers = _ce_headers(
        HUB_SOURCE,
        None,
        {
            "hub_rejected_reason": {"type": "string", "description": "Why, in words"},
            "hub_rejected_rules": {"type": "string", "description": "Rule codes, comma-separated"},
            "hub_original_topic": {"type": "string", "description": "Where it was read"},
            "hub_original_offset": {"type": "string", "description": "[partition, offset] (JSON)"},
            "hub_rejected_source": {
                "type": "string",
                "description": "The source it is laid to: its topic's for a record not the "
                "hub's, empty on the hub's own topics (not the source it claims)",
            },
        },
        ce_id="rej_ + a hash of where the record was read (the same if it is rejected again)",
        dataschema=REJECTED_SCHEMA,
        subject=None,
        time="When it was rejected",
        signed=True,
    )
    rejected_headers["patternProperties"] = {
        f"^{ORIGINAL_PREFIX.replace('.', '[.]')}": {
            "type": "string",
            "description": "The rejected record's own headers, each under original.",
        },
        f"^{ORIGINAL_B64_PREFIX.replace('.', '[.]')}": {
            "type": "string",
            "description": "Those of them that are not UTF-8 text, base64, under original64.",
        },
    }
    messages["rejectedRecord"] = {
        "name": "rejected-record",
        "title": "A record the router refused, whole, with why",
        "headers": rejected_headers,
        "payload": {"description": "The rejected record's value, byte for byte as it was read"},
        "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING, "key": _key("Its own key")}},
    }
    internal = (
        (
            "deliveries",
            names.deliveries("{recipient}"),
            "Routed deliveries per recipient (internal)",
            "routedDelivery",
        ),
        ("audit", names.audit, "The audit trail (internal, one partition)", "auditEntry"),
        ("rejected", names.rejected, "Rejected records (internal)", "rejectedRecord"),
    )
    for channel_id, address, title, message_id in internal:
        channels[channel_id] = {
            "address": address,
            "title": title,
            "messages": {message_id: {"$ref": f"#/components/messages/{message_id}"}},
        }
        if "{recipient}" in address:
            channels[channel_id]["parameters"] = {
                "recipient": {"description": "The recipient's system id"}
            }
        operations[f"hub_writes_{channel_id}"] = {
            "action": "send",
            "title": f"The hub writes {address}",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{message_id}"}],
        }
    return schemas
