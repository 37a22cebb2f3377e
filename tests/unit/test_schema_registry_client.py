"""Schema ids from a Confluent-compatible Schema Registry (an in-memory one speaking its HTTP API)."""

from __future__ import annotations

import io
import json
import struct
from datetime import date
from typing import Any

import fastavro
import httpx
import pytest

from hub.errors import BrokerError
from hub.events.codec import AvroCodec
from hub.events.schema_registry_client import ConfluentRegistryClient, with_registry_ids
from hub.events.schemas import SchemaRegistry


class FakeConfluentRegistry:
    """The two endpoints the hub uses, with Confluent's behaviour: one global id per schema."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.subjects: dict[str, list[int]] = {}
        self.requests: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        parts = request.url.path.strip("/").split("/")
        if request.method == "POST" and parts[0] == "subjects" and parts[2] == "versions":
            schema = json.loads(request.content)["schema"]
            schema_id = self.ids.setdefault(schema, 100 + len(self.ids))
            self.subjects.setdefault(parts[1], []).append(schema_id)
            return httpx.Response(200, json={"id": schema_id})
        if request.method == "GET" and parts[:2] == ["schemas", "ids"]:
            by_id = {v: k for k, v in self.ids.items()}
            if int(parts[2]) not in by_id:
                return httpx.Response(
                    404, json={"error_code": 40403, "message": "Schema not found"}
                )
            return httpx.Response(200, json={"schema": by_id[int(parts[2])]})
        return httpx.Response(404)

    def client(self) -> ConfluentRegistryClient:
        return ConfluentRegistryClient(
            "http://registry.test", httpx.Client(transport=httpx.MockTransport(self))
        )


def subjects(registry: SchemaRegistry) -> dict[str, str]:
    return {t: f"events.{t}-value" for t in registry.event_types}


def test_every_version_is_registered_under_the_topic_subject_and_its_id_is_used(
    registry: SchemaRegistry,
) -> None:
    fake = FakeConfluentRegistry()
    remote = with_registry_ids(registry, fake.client(), subjects(registry))
    assert len(fake.subjects["events.address.changed-value"]) == 2  # v1 and v2
    latest = remote.latest("death.notified")
    assert (
        latest.schema_id >= 100
        and latest.schema_id == fake.subjects["events.death.notified-value"][-1]
    )
    value = AvroCodec(remote).encode_value(
        "death.notified",
        {"date_of_death": date(2026, 11, 18), "verified_by": "registrar", "informant": None},
    )
    assert value[1:5] == struct.pack(">I", latest.schema_id)


def test_a_writer_schema_only_the_registry_knows_is_fetched_by_id(registry: SchemaRegistry) -> None:
    fake = FakeConfluentRegistry()
    remote = with_registry_ids(registry, fake.client(), subjects(registry))
    # another producer registered its own compatible version (an extra field with a default)
    theirs: dict[str, Any] = json.loads(registry.latest("death.notified").file.read_text())
    theirs["fields"].append({"name": "registration_district", "type": "string", "default": ""})
    their_id = fake.client().register("events.death.notified-value", theirs)
    buf = io.BytesIO()
    fastavro.schemaless_writer(
        buf,
        fastavro.parse_schema(theirs),
        {
            "date_of_death": date(2026, 11, 18),
            "verified_by": "hospital",
            "informant": None,
            "registration_district": "Exeter",
        },
    )
    foreign = b"\x00" + struct.pack(">I", their_id) + buf.getvalue()
    decoded = AvroCodec(remote).decode_value("death.notified", foreign)
    assert decoded == {
        "date_of_death": date(2026, 11, 18),
        "verified_by": "hospital",
        "informant": None,
    }
    assert f"GET /schemas/ids/{their_id}" in fake.requests


def test_an_id_the_registry_does_not_know_is_a_clear_error(registry: SchemaRegistry) -> None:
    remote = with_registry_ids(registry, FakeConfluentRegistry().client(), subjects(registry))
    with pytest.raises(BrokerError, match="HTTP 404"):
        AvroCodec(remote).decode_value(
            "death.notified", b"\x00" + struct.pack(">I", 9999) + b"\x00"
        )


def test_an_unreachable_registry_names_its_url(registry: SchemaRegistry) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    client = ConfluentRegistryClient(
        "http://registry.test", httpx.Client(transport=httpx.MockTransport(refuse))
    )
    with pytest.raises(BrokerError, match=r"registry\.test is not reachable"):
        with_registry_ids(registry, client, subjects(registry))


def test_the_delivery_record_is_registered_under_every_kafka_recipients_subject() -> None:
    from hub.delivery.kafka_record import DeliveryCodec, delivery_schemas
    from hub.events.schema_registry_client import register_versions
    from tests.conftest import REPO_ROOT

    SCHEMA_DIR = REPO_ROOT / "schemas" / "avro"

    fake = FakeConfluentRegistry()
    versions = [raw for _, raw in delivery_schemas(SCHEMA_DIR)]
    subjects = ["recipient.electoral-value", "council.waste.updates-value"]
    newest = register_versions(fake.client(), versions, subjects)
    assert newest is not None and newest >= 100
    for subject in subjects:
        assert fake.subjects[subject] == [newest - 1, newest]  # v1 then v2, the same global ids
    assert register_versions(fake.client(), versions, []) is None
    codec = DeliveryCodec.from_dir(SCHEMA_DIR, newest)
    assert codec.schema_id == newest and codec.raw == versions[-1]
    assert DeliveryCodec.from_dir(SCHEMA_DIR).schema_id == 1002  # no registry: registry.json
