"""build_event: an untrusted submission becomes a valid Event, or every problem is listed."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from hub.errors import EventValidationError, PermissionDenied
from hub.events.codec import AvroCodec
from hub.events.payloads import normalise_postcode
from hub.events.rules import RuleConfig
from hub.events.schemas import SchemaRegistry
from hub.events.validation import build_event

from .samples import NOW, SUBJECT


def submission(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "type": "address.changed",
        "subject": SUBJECT,
        "id": "ctax-2026-000123",
        "time": "2026-03-16T09:30:00Z",
        "data": {
            "previous_address": {
                "uprn": "100023336956",
                "lines": ["Flat 4, 17 Sidwell Street", "Exeter"],
                "postcode": "ex4 6nn",
            },
            "new_address": {
                "uprn": "200004711808",
                "lines": ["  Rosemary Cottage, 3 Mill Lane ", "Topsham"],
                "postcode": "ex1 2ab",
            },
            "effective_date": "2026-03-14",
        },
    }
    raw.update(overrides)
    return raw


def problems_of(raw: dict[str, Any], registry: SchemaRegistry) -> dict[str, str]:
    """location -> rule of every problem (asserting locations are unique)."""
    with pytest.raises(EventValidationError) as info:
        build_event(raw, "council-tax", registry, RuleConfig().at(NOW))
    found = {p.location: p.rule for p in info.value.problems}
    assert len(found) == len(info.value.problems), info.value.problems
    return found


def test_valid_submission_becomes_an_event(registry: SchemaRegistry) -> None:
    event = build_event(submission(), "council-tax", registry, RuleConfig().at(NOW))
    env = event.envelope
    assert env.id == "ctax-2026-000123"
    assert env.source == "council-tax"
    assert env.type == "address.changed"
    assert env.subject == SUBJECT
    assert env.time == datetime(2026, 3, 16, 9, 30, tzinfo=UTC)
    assert env.dataschema == "urn:tellitonce:schema:address.changed:v2"
    assert event.data["effective_date"] == date(2026, 3, 14)


def test_postcodes_are_normalised_and_lines_stripped(registry: SchemaRegistry) -> None:
    event = build_event(submission(), "council-tax", registry, RuleConfig().at(NOW))
    assert event.data["new_address"]["postcode"] == "EX1 2AB"
    assert event.data["previous_address"]["postcode"] == "EX4 6NN"
    assert event.data["new_address"]["lines"][0] == "Rosemary Cottage, 3 Mill Lane"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ex1 2ab", "EX1 2AB"),
        ("EX12AB", "EX1 2AB"),
        (" sw1a   1aa ", "SW1A 1AA"),
        ("M1 1AE", "M1 1AE"),
    ],
)
def test_normalise_postcode(raw: str, expected: str) -> None:
    assert normalise_postcode(raw) == expected


@pytest.mark.parametrize("bad", ["", "EX1", "12345", "EX1 2ABC", "not a postcode"])
def test_normalise_postcode_rejects_non_postcodes(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise_postcode(bad)


def test_id_and_time_default_when_not_given(registry: SchemaRegistry) -> None:
    raw = submission()
    del raw["id"], raw["time"]
    event = build_event(raw, "council-tax", registry, RuleConfig().at(NOW))
    assert event.envelope.time == NOW
    assert uuid.UUID(event.envelope.id)
    other = build_event(raw, "council-tax", registry, RuleConfig().at(NOW))
    assert other.envelope.id != event.envelope.id


def test_death_notification_is_valid(registry: SchemaRegistry) -> None:
    raw = {
        "type": "death.notified",
        "subject": SUBJECT,
        "data": {"date_of_death": "2026-02-27", "verified_by": "registrar"},
    }
    event = build_event(raw, "registrar", registry, RuleConfig().at(NOW))
    assert event.data == {
        "date_of_death": date(2026, 2, 27),
        "verified_by": "registrar",
        "informant": None,
    }


def test_built_event_encodes_and_decodes(registry: SchemaRegistry) -> None:
    codec = AvroCodec(registry)
    event = build_event(submission(), "council-tax", registry, RuleConfig().at(NOW))
    record = codec.encode_event(event)
    assert codec.decode_event(record.value, record.headers) == event


def test_every_data_problem_is_listed_with_its_dotted_location(registry: SchemaRegistry) -> None:
    raw = submission()
    raw["data"]["new_address"]["uprn"] = "ABC123"
    raw["data"]["previous_address"]["uprn"] = "1234567890123"  # 13 digits
    raw["data"]["new_address"]["postcode"] = "not a postcode"
    raw["data"]["previous_address"]["lines"] = []
    raw["data"]["effective_date"] = "last tuesday"
    found = problems_of(raw, registry)
    assert set(found) == {
        "data.new_address.uprn",
        "data.previous_address.uprn",
        "data.new_address.postcode",
        "data.previous_address.lines",
        "data.effective_date",
    }
    assert found["data.new_address.uprn"] == "string_pattern_mismatch"


@pytest.mark.parametrize("uprn", ["1", "123456789012"])
def test_uprn_of_one_to_twelve_digits_is_accepted(registry: SchemaRegistry, uprn: str) -> None:
    raw = submission()
    raw["data"]["new_address"]["uprn"] = uprn
    event = build_event(raw, "council-tax", registry, RuleConfig().at(NOW))
    assert event.data["new_address"]["uprn"] == uprn


@pytest.mark.parametrize("uprn", ["", "1234567890123", "12a4", "-1"])
def test_uprn_outside_one_to_twelve_digits_is_rejected(registry: SchemaRegistry, uprn: str) -> None:
    raw = submission()
    raw["data"]["new_address"]["uprn"] = uprn
    assert set(problems_of(raw, registry)) == {"data.new_address.uprn"}


def test_address_line_problem_names_the_line_index(registry: SchemaRegistry) -> None:
    raw = submission()
    raw["data"]["new_address"]["lines"] = ["ok", "   "]
    assert set(problems_of(raw, registry)) == {"data.new_address.lines.1"}


def test_missing_and_extra_data_fields_are_listed(registry: SchemaRegistry) -> None:
    raw = submission()
    del raw["data"]["effective_date"]
    raw["data"]["new_address"]["colour"] = "blue"
    found = problems_of(raw, registry)
    assert found == {"data.effective_date": "missing", "data.new_address.colour": "extra_forbidden"}


def test_unknown_type_is_a_problem_at_type(registry: SchemaRegistry) -> None:
    found = problems_of(submission(type="pet.adopted"), registry)
    assert found == {"type": "known_event_type"}


def test_extra_top_level_field_is_rejected(registry: SchemaRegistry) -> None:
    found = problems_of(submission(priority="high"), registry)
    assert found == {"priority": "extra_forbidden"}


def test_missing_top_level_fields_are_each_listed(registry: SchemaRegistry) -> None:
    found = problems_of({"id": "x"}, registry)
    assert found == {"type": "missing", "subject": "missing", "data": "missing"}


def test_naive_time_is_a_problem_at_time(registry: SchemaRegistry) -> None:
    found = problems_of(submission(time="2026-03-16T09:30:00"), registry)
    assert found == {"time": "timezone"}


def test_naive_time_and_bad_data_are_both_reported(registry: SchemaRegistry) -> None:
    raw = submission(time="2026-03-16T09:30:00")
    raw["data"]["new_address"]["uprn"] = "x"
    assert set(problems_of(raw, registry)) == {"time", "data.new_address.uprn"}


def test_bad_envelope_values_are_problems_at_their_attribute(registry: SchemaRegistry) -> None:
    found = problems_of(submission(id="has spaces", subject=""), registry)
    assert set(found) == {"id", "subject"}


def test_source_mismatch_is_permission_denied(registry: SchemaRegistry) -> None:
    with pytest.raises(PermissionDenied, match="registrar"):
        build_event(submission(source="registrar"), "council-tax", registry, RuleConfig().at(NOW))


def test_own_source_may_be_given(registry: SchemaRegistry) -> None:
    event = build_event(
        submission(source="council-tax"), "council-tax", registry, RuleConfig().at(NOW)
    )
    assert event.envelope.source == "council-tax"


def test_missing_subject_and_bad_data_are_both_reported(registry: SchemaRegistry) -> None:
    raw = submission()
    del raw["subject"]
    raw["data"]["new_address"]["uprn"] = "x"
    assert set(problems_of(raw, registry)) == {"subject", "data.new_address.uprn"}
