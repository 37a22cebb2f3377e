"""The AsyncAPI 3.0 document of the Kafka side validates (the `asyncapi3` models of the 3.0
specification), and every reference in it resolves; the Avro schemas in it parse."""

from __future__ import annotations

import copy
import json
import re
import warnings
from typing import Any

import fastavro
import pytest
from pydantic import ValidationError

from hub import __version__
from hub.api.asyncapi import asyncapi_document
from hub.broker.topics import TopicNames
from hub.config.loader import load_config
from hub.events.schemas import SchemaRegistry
from hub.settings import REPO_ROOT
from tests.conftest import SAMPLE_CONFIG

with warnings.catch_warnings():  # the library's own pydantic field-name warnings
    warnings.simplefilter("ignore")
    from asyncapi3.models.asyncapi import AsyncAPI3

SCHEMAS = REPO_ROOT / "schemas" / "avro"


def document() -> dict[str, Any]:
    registry = SchemaRegistry.from_dir(SCHEMAS)
    config = load_config(SAMPLE_CONFIG, registry)
    return asyncapi_document(registry, TopicNames(), config, SCHEMAS, __version__)


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_the_document_is_valid_asyncapi_3() -> None:
    doc = document()
    AsyncAPI3.model_validate(doc)
    assert doc["asyncapi"] == "3.0.0"


def test_every_reference_resolves_and_every_avro_schema_parses() -> None:
    doc = document()
    refs = re.findall(r'"\$ref": "([^"]+)"', json.dumps(doc))
    assert refs
    for ref in refs:
        _resolve(doc, ref)  # KeyError when dangling
    for message in doc["components"]["messages"].values():
        payload = message["payload"]
        if "schemaFormat" in payload:
            fastavro.parse_schema(payload["schema"])


def test_topics_keys_and_headers_are_described() -> None:
    doc = document()
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {
        "events.address.changed",
        "recipient.{recipient}",
        "dead-letters.deliveries",
    } <= addresses
    delivery = doc["components"]["messages"]["delivery"]
    assert delivery["bindings"]["kafka"]["schemaIdPayloadEncoding"] == "confluent"
    assert "ce_type" in delivery["headers"]["properties"]
    assert delivery["payload"]["schema"]["name"] == "Delivery"
    dead = doc["components"]["messages"]["deadLetter"]
    assert "ce_recipient" in dead["headers"]["properties"]


def test_the_validator_refuses_a_broken_document() -> None:
    broken = copy.deepcopy(document())
    broken["operations"]["receive_deliveries"]["action"] = "consume"  # not send/receive
    with pytest.raises(ValidationError):
        AsyncAPI3.model_validate(broken)
