"""The Kafka sink's record: wire-format Avro of the delivery, CloudEvents headers, round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hub.broker.topics import TopicNames
from hub.delivery.kafka_record import DeliveryCodec
from hub.routing.messages import Delivery, Mode
from hub.settings import REPO_ROOT

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def delivery() -> Delivery:
    return Delivery(
        delivery_id="dlv_1",
        event_id="evt-1",
        event_type="address.changed",
        source="council-tax",
        subject="P-1",
        subject_key="k" * 64,
        recipient="electoral",
        local_id="ELE-P-1",
        event_time=AT,
        agreement_id="DSA-002",
        agreement_version="abc",
        lawful_basis="public task",
        purpose="register",
        fields=("new_address.postcode",),
        data={"new_address": {"postcode": "EX4 7QT"}},
        decided_at=AT,
        mode=Mode.REDRIVE,
    )


def test_round_trip_and_headers() -> None:
    codec = DeliveryCodec.from_dir(REPO_ROOT / "schemas" / "avro")
    record = codec.encode(delivery())
    assert record.value[0] == 0 and int.from_bytes(record.value[1:5], "big") == codec.schema_id
    decoded = codec.decode(record.value)
    assert decoded["original_delivery_id"] == "dlv_1"  # a redrive is a new message
    assert decoded["delivery_id"] != "dlv_1"
    assert decoded["data"]["new_address"]["postcode"] == "EX4 7QT"
    assert decoded["mode"] == "redrive" and decoded["time"] == AT
    assert "subject_key" not in decoded
    headers = dict(record.headers)
    assert headers["ce_id"] == decoded["delivery_id"].encode()
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"address.changed"
    assert record.key == b"P-1"


def test_the_delivery_schema_id_is_not_an_event_schema_id() -> None:
    index = json.loads((REPO_ROOT / "schemas" / "avro" / "registry.json").read_text())
    event_ids = {s["id"] for s in index["schemas"]}
    assert DeliveryCodec.from_dir(REPO_ROOT / "schemas" / "avro").schema_id not in event_ids


def test_recipient_topic_default_and_configured() -> None:
    assert TopicNames().recipient_topic("electoral") == "recipient.electoral"
    assert TopicNames("t1.").recipient_topic("electoral") == "t1.recipient.electoral"
    assert TopicNames().recipient_topic("electoral", "ero.updates") == "ero.updates"
