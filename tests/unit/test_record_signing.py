"""Signed internal records: sign/verify over topic, key, value and headers; key rotation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from hub.errors import ConfigError
from hub.routing.messages import Delivery
from hub.secrets import embedded_settings
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from hub.signing.records import (
    KID_HEADER,
    SIG_HEADER,
    RecordKeys,
    Refusal,
    SigningKeyError,
    sign,
    unsigned,
    verify,
)

KEYS = RecordKeys.of("k" * 32)
TOPIC = "deliveries.waste"
VALUE = b'{"delivery_id":"dlv_1","recipient":"waste"}'
HEADERS = [("ce_id", b"e-1"), ("ce_source", b"council-tax")]


def signed() -> list[tuple[str, bytes]]:
    return KEYS.sign_headers(TOPIC, b"P-1", VALUE, HEADERS)


def test_a_signed_record_verifies_as_it_is() -> None:
    headers = signed()
    assert [k for k, _ in headers] == ["ce_id", "ce_source", SIG_HEADER, KID_HEADER]
    assert verify(KEYS, TOPIC, b"P-1", VALUE, headers)
    assert KEYS.check(TOPIC, b"P-1", VALUE, headers) is None


def test_an_unsigned_record_is_refused() -> None:
    assert KEYS.check(TOPIC, b"P-1", VALUE, HEADERS) is Refusal.UNSIGNED
    assert not verify(KEYS, TOPIC, b"P-1", VALUE, HEADERS)


@pytest.mark.parametrize(
    ("topic", "key", "value", "change_headers"),
    [
        (TOPIC, b"P-1", VALUE.replace(b"waste", b"wastf"), None),  # value altered
        ("deliveries.parking", b"P-1", VALUE, None),  # copied to another topic
        (TOPIC, b"P-2", VALUE, None),  # another key
        (TOPIC, None, VALUE, None),  # key dropped
        (TOPIC, b"P-1", VALUE, lambda h: [("ce_source", b"registrar"), *h[1:]]),  # header edited
        (TOPIC, b"P-1", VALUE, lambda h: [("extra", b"x"), *h]),  # header added
        (TOPIC, b"P-1", VALUE, lambda h: h[1:]),  # header removed
    ],
)
def test_a_valid_signature_on_an_altered_record_is_refused(
    topic: str, key: bytes | None, value: bytes, change_headers: object
) -> None:
    headers = signed()
    if callable(change_headers):
        headers = change_headers(headers)
    assert KEYS.check(topic, key, value, headers) is Refusal.BAD_SIGNATURE


def test_a_signature_by_another_key_is_refused() -> None:
    other = RecordKeys.of("o" * 32)
    headers = other.sign_headers(TOPIC, b"P-1", VALUE, HEADERS)
    assert KEYS.check(TOPIC, b"P-1", VALUE, headers) is Refusal.UNKNOWN_KEY
    # claiming our key id with a signature made by another key
    forged = [(k, KEYS.kid.encode() if k == KID_HEADER else v) for k, v in headers]
    assert KEYS.check(TOPIC, b"P-1", VALUE, forged) is Refusal.BAD_SIGNATURE


def test_two_signatures_are_refused() -> None:
    headers = signed()
    assert KEYS.check(TOPIC, b"P-1", VALUE, [*headers, headers[-2]]) is Refusal.AMBIGUOUS


def test_key_rotation_old_key_still_verifies_new_key_signs() -> None:
    old = RecordKeys.of("old-key-" * 4)
    by_old = old.sign_headers(TOPIC, b"P-1", VALUE, HEADERS)
    rotated = RecordKeys.of("new-key-" * 4, "old-key-" * 4)
    assert rotated.verify(TOPIC, b"P-1", VALUE, by_old)
    by_new = rotated.sign_headers(TOPIC, b"P-1", VALUE, HEADERS)
    assert dict(by_new)[KID_HEADER] == RecordKeys.of("new-key-" * 4).kid.encode()
    assert not old.verify(TOPIC, b"P-1", VALUE, by_new)
    assert rotated.verify(TOPIC, b"P-1", VALUE, by_new)


def test_re_signing_replaces_the_old_signature() -> None:
    again = KEYS.sign_headers(TOPIC, b"P-1", VALUE, signed())
    assert [k for k, _ in again].count(SIG_HEADER) == 1
    assert KEYS.verify(TOPIC, b"P-1", VALUE, again)
    assert unsigned(again) == HEADERS


def test_no_empty_or_short_key_signs() -> None:
    with pytest.raises(SigningKeyError):
        RecordKeys.of("")
    with pytest.raises(SigningKeyError):
        RecordKeys(())
    with pytest.raises(SigningKeyError):
        sign(b"", TOPIC, None, VALUE, ())


def test_keys_come_from_the_settings(tmp_path: Path) -> None:
    settings = HubSettings(
        data_dir=tmp_path,
        kafka_bootstrap="kafka:9092",
        record_signing_key=SecretStr("n" * 32),
        record_signing_old_keys=[SecretStr("o" * 32)],
    )
    keys = record_keys(settings)
    assert keys.secrets == (b"n" * 32, b"o" * 32)


def test_a_production_process_without_a_key_does_not_start(tmp_path: Path) -> None:
    settings = HubSettings(data_dir=tmp_path, kafka_bootstrap="kafka:9092")
    with pytest.raises(ConfigError, match="no usable record signing key") as err:
        record_keys(settings)
    assert err.value.problems[0].location == "HUB_RECORD_SIGNING_KEY"
    with pytest.raises(ConfigError):
        record_keys(settings.model_copy(update={"record_signing_key": SecretStr("")}))


def test_the_embedded_hub_generates_its_key_once_and_its_children_share_it(
    tmp_path: Path,
) -> None:
    embedded = embedded_settings(HubSettings(data_dir=tmp_path))
    first = record_keys(embedded)
    child = embedded_settings(
        HubSettings(data_dir=tmp_path).model_copy(update={"kafka_bootstrap": "127.0.0.1:9092"})
    )
    assert record_keys(child) == first
    assert len(first.secrets[0]) >= 32


def test_verifying_costs_less_than_decoding_the_record() -> None:
    """On the hot path every internal record is signed once and verified once. Measured against
    what each consumer does anyway (pydantic-decoding the record), so a loaded machine slows
    both alike."""
    value = Delivery.model_validate_json(DELIVERY).model_dump_json().encode()
    n = 5_000
    signed_headers = [KEYS.sign_headers(TOPIC, b"P-1", value) for _ in range(n)]
    started = time.perf_counter()
    assert all(KEYS.verify(TOPIC, b"P-1", value, h) for h in signed_headers)
    verify_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(n):
        Delivery.model_validate_json(value)
    decode_s = time.perf_counter() - started
    assert verify_s < 4 * decode_s, (
        f"verify {verify_s / n * 1e6:.1f} us, decode {decode_s / n * 1e6:.1f} us"
    )


DELIVERY = (
    '{"delivery_id":"dlv_1","event_id":"e-1","event_type":"address.changed",'
    '"source":"council-tax","subject":"P-1","subject_key":"k","recipient":"waste",'
    '"local_id":"W-1","event_time":"2026-11-20T09:00:00Z","agreement_id":"DSA-001",'
    '"agreement_version":"v1","lawful_basis":"Art. 6(1)(e)","purpose":"bins",'
    '"fields":["effective_date","new_address"],"data":{"effective_date":"2026-11-20",'
    '"new_address":{"uprn":"100023412345","lines":["7 Orchard Close"],"postcode":"EX4 7QT"}},'
    '"decided_at":"2026-11-20T09:00:00Z"}'
)
