"""One delivery shape (contract v2) for the webhook body, the inbox item and the Kafka record."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from hub.delivery.avro_shape import delivery_schema
from hub.delivery.kafka_record import DeliveryCodec
from hub.delivery.shape import DeliveryMessage, message_id, to_message, webhook_body
from hub.events.schemas import SchemaRegistry
from hub.routing.messages import Delivery, Mode, delivery_id
from hub.settings import REPO_ROOT

SCHEMAS = REPO_ROOT / "schemas" / "avro"
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
INTERNAL = {"subject_key", "decided_at", "purpose", "recipient", "event_type", "event_time"}


def move(mode: Mode = Mode.LIVE, decided_at: datetime = AT) -> Delivery:
    return Delivery(
        delivery_id=delivery_id("evt-1", "waste", source="council-tax"),
        event_id="evt-1",
        event_type="address.changed",
        source="council-tax",
        subject="P-1",
        subject_key="k" * 64,
        recipient="waste",
        local_id="W-1",
        event_time=AT,
        agreement_id="DSA-001",
        agreement_version="abc",
        lawful_basis="public_task",
        purpose="bin collections",
        fields=("new_address.postcode", "effective_date"),
        data={"new_address": {"postcode": "EX4 7QT"}, "effective_date": "2026-11-20"},
        decided_at=decided_at,
        mode=mode,
        subject_flags=("deceased",),
    )


def test_webhook_body_and_kafka_record_carry_the_same_fields_and_nothing_internal() -> None:
    body = json.loads(webhook_body(move()))
    codec = DeliveryCodec.from_dir(SCHEMAS)
    record = codec.decode(codec.encode(move()).value)
    assert set(body) == set(record) == set(DeliveryMessage.model_fields)
    assert not INTERNAL & set(body)
    assert body["version"] == record["version"] == 2
    assert body["type"] == record["type"] == "address.changed"
    assert body["flags"] == record["flags"] == ["deceased"]
    assert body["local_id"] == record["local_id"] == "W-1"
    assert body["delivery_id"] == record["delivery_id"]


def test_kafka_data_is_typed_avro_with_withheld_fields_null() -> None:
    codec = DeliveryCodec.from_dir(SCHEMAS)
    record = codec.encode(move())
    assert int.from_bytes(record.value[1:5], "big") == 1002
    data = codec.decode(record.value)["data"]
    assert data["effective_date"] == date(2026, 11, 20)  # a date, not a JSON string
    assert data["new_address"]["postcode"] == "EX4 7QT"
    assert data["new_address"]["uprn"] is None  # withheld
    assert data["previous_address"] is None


def test_a_live_delivery_keeps_its_stable_id_on_every_retry() -> None:
    live = to_message(move())
    assert live.delivery_id == move().delivery_id
    assert live.original_delivery_id is None and live.mode is Mode.LIVE


def test_a_replay_or_redrive_is_a_new_message_naming_the_original() -> None:
    original = move().delivery_id
    replay = to_message(move(Mode.REPLAY, AT + timedelta(days=1)))
    again = to_message(move(Mode.REPLAY, AT + timedelta(days=2)))
    redrive = to_message(move(Mode.REDRIVE, AT + timedelta(days=1)))
    ids = {original, replay.delivery_id, again.delivery_id, redrive.delivery_id}
    assert len(ids) == 4
    assert replay.original_delivery_id == again.original_delivery_id == original
    assert redrive.original_delivery_id == original and redrive.mode is Mode.REDRIVE
    # a retry of the re-send (same stored payload) keeps the re-send's id
    assert message_id(move(Mode.REPLAY, AT + timedelta(days=1))) == replay.delivery_id
    headers = dict(DeliveryCodec.from_dir(SCHEMAS).encode(move(Mode.REPLAY, AT)).headers)
    assert headers["ce_id"] == message_id(move(Mode.REPLAY, AT)).encode()


def test_a_correction_names_the_delivery_it_corrects_and_decodes_typed() -> None:
    correction = move(Mode.CORRECTION).model_copy(
        update={
            "delivery_id": delivery_id("evt-2", "waste", source="council-tax"),
            "event_id": "evt-2",
            "event_type": "correction",
            "data": {
                "original_event_id": "evt-1",
                "original_event_type": "address.changed",
                "corrected": {"effective_date": "2026-11-21"},
            },
        }
    )
    message = to_message(correction)
    assert message.original_delivery_id == move().delivery_id
    assert message.delivery_id == correction.delivery_id
    codec = DeliveryCodec.from_dir(SCHEMAS)
    data = codec.decode(codec.encode(correction).value)["data"]
    assert data["original_event_id"] == "evt-1"
    assert data["corrected"]["effective_date"] == date(2026, 11, 21)


def test_the_checked_in_delivery_schema_is_the_one_derived_from_the_event_schemas() -> None:
    derived = delivery_schema(SchemaRegistry.from_dir(SCHEMAS))
    checked_in = json.loads((SCHEMAS / "delivery.v2.avsc").read_text())
    assert checked_in == derived, "regenerate: python -m hub.delivery.avro_shape schemas/avro"
