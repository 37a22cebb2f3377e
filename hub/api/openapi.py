"""The complete OpenAPI document: what the API really answers, typed per event type.

FastAPI's generated document is completed here, in one place:
- every error status an operation can answer is documented with the real error model
  `{"error": {"code", "message", "problems"}}` (FastAPI's `{"detail": [...]}` is gone): 401 and
  403 on every operation that takes a key, 400/413/422 where a body or parameters are read,
  404 and 503 where they occur;
- the ingest request body and the delivery (inbox items, the webhook body) are discriminated
  unions on `type`, one branch per event type, their `data` typed from the Avro contracts
  (requests: the event schema; deliveries: the delivery data schema, every field optional);
- the webhook a receiver gets is under `webhooks` (OpenAPI 3.1), with its signature headers;
- operation ids are explicit and stable (camelCase of the handler's name, `operation_id=`
  where a route sets one).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from hub.delivery.shape import DeliveryMessage
from hub.events.schemas import SchemaRegistry
from hub.events.validation import EventSubmission

REF = "#/components/schemas/"


class ErrorProblem(BaseModel):
    field: str = Field(description="Where: a field path, a file or a header")
    rule: str = Field(description="The rule that failed (machine-readable)")
    message: str = Field(description="What is wrong and what to do, in words")


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable, e.g. invalid, unauthenticated, not_found")
    message: str
    problems: list[ErrorProblem] = Field(default=[])


class ErrorBody(BaseModel):
    """Every error the API answers."""

    error: ErrorDetail


ERROR_TEXT = {
    400: "Bad request: the body is not usable JSON or the request is refused as asked",
    401: "No API key, an unknown one, or a revoked one (`Authorization: Bearer <key>`)",
    403: "The key's system may not do this (role or authority)",
    404: "No such thing for you",
    409: "Conflict with what the hub already holds",
    413: "The request body is over the limit (HUB_API_MAX_BODY_BYTES)",
    422: "A field or parameter is invalid: `problems` names each one",
    503: "A dependency (the broker, the database) is not available: try again",
}


def operation_id(route: APIRoute) -> str:
    """Stable: from the handler's name (`read_inbox` -> `readInbox`), not the path."""
    head, *rest = route.name.split("_")
    return head + "".join(p.capitalize() for p in rest)


# Statuses that only some operations answer (method, path) -> statuses.
WHERE = {
    ("post", "/v1/events"): (400, 503),
    ("get", "/readyz"): (503,),
    ("post", "/v1/receiver/dead-letters/redrive"): (503,),
    ("post", "/v1/receiver/replay"): (400, 503),
    ("post", "/v1/admin/systems"): (400,),
    ("post", "/v1/admin/systems/{system_id}/rotate-key"): (400,),
    ("post", "/v1/connectors/{name}/pause"): (404,),
    ("post", "/v1/connectors/{name}/resume"): (404,),
    ("get", "/v1/match/candidates/{seq}"): (404,),
    ("post", "/v1/match/candidates/{seq}/decision"): (404, 409),
}
RECEIVER_WEBHOOK_ONLY = "/v1/receiver/"
REGISTRY_PATHS = ("/schemas/", "/subjects")  # the Confluent registry API's own media type
REGISTRY_TYPE = "application/vnd.schemaregistry.v1+json"


# Avro -> JSON Schema


def _scalar(avro: str) -> dict[str, Any]:
    return {
        "string": {"type": "string"},
        "bytes": {"type": "string"},
        "int": {"type": "integer"},
        "long": {"type": "integer"},
        "float": {"type": "number"},
        "double": {"type": "number"},
        "boolean": {"type": "boolean"},
        "null": {"type": "null"},
    }.get(avro, {})


def json_schema(avro: Any, named: dict[str, Any], refs: dict[str, str]) -> dict[str, Any]:
    """JSON Schema of an Avro type; named types in `refs` become `$ref`s, others are inlined."""
    if isinstance(avro, str):
        short = avro.rsplit(".", 1)[-1]
        if short in refs:
            return {"$ref": refs[short]}
        if short in named:
            return json_schema(named[short], named, refs)
        return _scalar(avro)
    if isinstance(avro, list):
        branches = [json_schema(b, named, refs) for b in avro]
        return branches[0] if len(branches) == 1 else {"anyOf": branches}
    kind = avro.get("type")
    logical = avro.get("logicalType")
    out: dict[str, Any]
    if logical == "date":
        out = {"type": "string", "format": "date"}
    elif logical in ("timestamp-millis", "timestamp-micros"):
        out = {"type": "string", "format": "date-time"}
    elif kind == "record":
        named[avro["name"]] = avro
        out = {
            "type": "object",
            "properties": {
                f["name"]: {
                    **json_schema(f["type"], named, refs),
                    **({"description": f["doc"]} if "doc" in f else {}),
                }
                for f in avro["fields"]
            },
            "required": [f["name"] for f in avro["fields"] if "default" not in f],
            "additionalProperties": False,
        }
        if not out["required"]:
            del out["required"]
    elif kind == "enum":
        named[avro["name"]] = avro
        out = {"type": "string", "enum": list(avro["symbols"])}
    elif kind == "array":
        out = {"type": "array", "items": json_schema(avro["items"], named, refs)}
    elif kind == "map":
        out = {"type": "object", "additionalProperties": json_schema(avro["values"], named, refs)}
    elif isinstance(kind, str | list | dict):
        out = json_schema(kind, named, refs)
    else:
        out = {}
    if isinstance(avro, dict) and avro.get("doc") and kind in ("record", "enum"):
        out["description"] = avro["doc"]
    return out


def _name(event_type: str, suffix: str) -> str:
    return "".join(p.capitalize() for p in re.split(r"[._-]", event_type)) + suffix


def _union(names: dict[str, str], title: str) -> dict[str, Any]:
    return {
        "title": title,
        "oneOf": [{"$ref": REF + n} for n in names.values()],
        "discriminator": {
            "propertyName": "type",
            "mapping": {t: REF + n for t, n in names.items()},
        },
    }


EXAMPLE_DELIVERY = {
    "version": 2,
    "delivery_id": "dlv_5b0c1a2e9f7d4c3b8a6e5d4c3b2a1f0e",
    "original_delivery_id": None,
    "mode": "live",
    "event_id": "evt-3f1c",
    "type": "address.changed",
    "source": "council-tax",
    "subject": "P-100234",
    "local_id": "PRK-20931",
    "time": "2026-11-20T09:00:00Z",
    "flags": [],
    "agreement_id": "DSA-003",
    "agreement_version": "86e0657a9eb0",
    "lawful_basis": "UK GDPR Art. 6(1)(e) public task",
    "fields": ["effective_date", "new_address.postcode", "new_address.uprn"],
    "data": {
        "effective_date": "2026-11-20",
        "new_address": {"postcode": "EX4 7QT", "uprn": "100023412345"},
    },
}
EXAMPLE_EVENT = {
    "type": "address.changed",
    "subject": "P-100234",
    "id": "ct-2026-11-20-0042",
    "time": "2026-11-20T09:00:00Z",
    "data": {
        "previous_address": {
            "uprn": "100023336956",
            "lines": ["2 Mill Lane"],
            "postcode": "EX1 2AB",
        },
        "new_address": {
            "uprn": "100023412345",
            "lines": ["7 Orchard Close"],
            "postcode": "EX4 7QT",
        },
        "effective_date": "2026-11-20",
        "move_type": "within_area",
    },
}


def add_event_types(
    spec: dict[str, Any], registry: SchemaRegistry, delivery_avro: dict[str, Any]
) -> None:
    """Per-event-type request and delivery schemas as discriminated unions on `type`."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    # requests: each event type's newest schema, as sources must send it
    requests: dict[str, str] = {}
    base = model_schema(EventSubmission, schemas)
    for event_type in sorted(registry.event_types):
        data_name = _name(event_type, "Event")
        schemas[data_name] = json_schema(registry.latest(event_type).raw, {}, {})
        requests[event_type] = _name(event_type, "Submission")
        branch: dict[str, Any] = copy.deepcopy(base)
        branch["title"] = requests[event_type]
        branch["properties"]["type"] = {"type": "string", "const": event_type}
        branch["properties"]["data"] = {"$ref": REF + data_name}
        schemas[requests[event_type]] = branch
    schemas["AnyEventSubmission"] = {
        **_union(requests, "AnyEventSubmission"),
        "example": EXAMPLE_EVENT,
    }
    # deliveries: the data branches of the Avro delivery record (the same types as on Kafka)
    data_field = next(f for f in delivery_avro["fields"] if f["name"] == "data")
    records = [b for b in data_field["type"] if isinstance(b, dict)]
    refs = {r["name"]: REF + r["name"] for r in records}
    for record in records:
        schemas[record["name"]] = json_schema(
            record, {}, {k: v for k, v in refs.items() if k != record["name"]}
        )
    deliveries: dict[str, str] = {}
    message = model_schema(DeliveryMessage, schemas)
    for record in records:
        delivered = _event_type_of(record["name"], registry)
        if delivered is None:
            continue
        name = _name(delivered, "Delivery")
        variant: dict[str, Any] = copy.deepcopy(message)
        variant["title"] = name
        variant["properties"]["type"] = {"type": "string", "const": delivered}
        variant["properties"]["data"] = {"$ref": REF + record["name"]}
        schemas[name] = variant
        deliveries[delivered] = name
    schemas["AnyDelivery"] = {**_union(deliveries, "AnyDelivery"), "example": EXAMPLE_DELIVERY}
    page = schemas.get("InboxPage")
    if page is not None:
        page["properties"]["items"]["items"] = {
            "allOf": [
                {"$ref": REF + "AnyDelivery"},
                {
                    "type": "object",
                    "properties": {
                        "cursor": {"type": "integer", "description": "Position in your inbox"}
                    },
                    "required": ["cursor"],
                },
            ]
        }
    events = spec.get("paths", {}).get("/v1/events", {}).get("post")
    if events is not None:
        events["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF + "AnyEventSubmission"}}},
        }
    spec["webhooks"] = {
        "delivery": {
            "post": {
                "operationId": "receiveDelivery",
                "summary": "A delivery POSTed to your webhook (Standard Webhooks 1.0)",
                "description": "Verify the signature, de-duplicate on `webhook-id`, answer 2xx "
                "once stored. See docs/receiving.md.",
                "parameters": [
                    {
                        "name": n,
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": d,
                    }
                    for n, d in (
                        ("webhook-id", "The message id (= delivery_id): de-duplicate on it"),
                        ("webhook-timestamp", "Unix seconds when signed"),
                        ("webhook-signature", "v1,<base64 HMAC-SHA256 of id.timestamp.body>"),
                    )
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": REF + "AnyDelivery"}}},
                },
                "responses": {"200": {"description": "Stored (any 2xx)"}},
            }
        }
    }


def _event_type_of(record_name: str, registry: SchemaRegistry) -> str | None:
    for event_type in registry.event_types:
        if _name(event_type, "Data") == record_name:
            return event_type
    return None


def _error(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or ERROR_TEXT[status],
        "content": {"application/json": {"schema": {"$ref": REF + "ErrorBody"}}},
    }


def document_errors(spec: dict[str, Any]) -> None:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorProblem, ErrorDetail, ErrorBody):
        schemas[model.__name__] = model_schema(model, schemas)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            wanted: set[int] = set()
            if op.get("security"):
                wanted |= {401, 403}
            if op.get("parameters") or op.get("requestBody"):
                wanted.add(422)
            if op.get("requestBody"):
                wanted |= {400, 413}
            if path.startswith(RECEIVER_WEBHOOK_ONLY) and path != "/v1/receiver/replay":
                wanted.add(404)
            wanted |= set(WHERE.get((method, path), ()))
            if 422 not in wanted:
                responses.pop("422", None)  # FastAPI's, for a hidden header: never answered
            for status in sorted(wanted):
                key = str(status)
                if key in responses and "content" in responses[key] and status != 422:
                    continue
                described = responses.get(key, {}).get("description")
                keep = described if described and described != "Validation Error" else None
                responses[key] = _error(status, keep)
            for key, response in responses.items():  # declared without a body: the error model
                if key.startswith(("4", "5")) and "content" not in response:
                    response["content"] = _error(int(key))["content"]
                if path.startswith(REGISTRY_PATHS) and key in ("200", "404"):
                    content = response.get("content", {})
                    if "application/json" in content:
                        content[REGISTRY_TYPE] = content.pop("application/json")


def model_schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    """A pydantic model's JSON Schema with its nested models as components."""
    out = model.model_json_schema(ref_template=REF + "{model}")
    for name, definition in out.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    return out


def complete_openapi(
    app: FastAPI, registry: SchemaRegistry, delivery_avro: dict[str, Any]
) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=list(_tags(app.routes)),
    )
    add_event_types(spec, registry, delivery_avro)
    document_errors(spec)
    app.openapi_schema = spec
    return spec


def _tags(routes: Iterable[Any]) -> Iterable[dict[str, str]]:
    seen: set[str] = set()
    for route in routes:
        for tag in getattr(route, "tags", []) or []:
            if isinstance(tag, str) and tag not in seen:
                seen.add(tag)
                yield {"name": tag}
