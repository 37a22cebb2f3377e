"""The new event types' structural rules and the contextual rules (clock, window, gazetteer)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.errors import ConfigError, EventValidationError
from hub.events.gazetteer import Gazetteer
from hub.events.rules import RuleConfig
from hub.events.schemas import SchemaRegistry
from hub.events.validation import build_event

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ADDRESS = {"uprn": "100023412345", "lines": ["7 Orchard Close"], "postcode": "EX4 7QT"}


def submit(
    registry: SchemaRegistry, type_: str, data: dict[str, Any], rules: RuleConfig | None = None
) -> dict[str, Any]:
    raw = {"type": type_, "subject": "P-1", "data": data}
    return build_event(raw, "council-tax", registry, (rules or RuleConfig()).at(NOW)).data


def problems(
    registry: SchemaRegistry, type_: str, data: dict[str, Any], rules: RuleConfig | None = None
) -> dict[str, str]:
    with pytest.raises(EventValidationError) as info:
        submit(registry, type_, data, rules)
    return {p.location: p.rule for p in info.value.problems}


def test_name_change(registry: SchemaRegistry) -> None:
    data = submit(
        registry,
        "name.changed",
        {
            "previous_name": {"given_names": " Ann ", "family_name": "Smith"},
            "new_name": {"title": "Dr", "given_names": "Ann", "family_name": "Jones"},
            "effective_date": "2026-11-01",
            "reason": "marriage",
        },
    )
    assert data["previous_name"] == {"title": None, "given_names": "Ann", "family_name": "Smith"}
    found = problems(
        registry,
        "name.changed",
        {
            "previous_name": {"given_names": "", "family_name": "x" * 101},
            "new_name": {"given_names": "A", "family_name": "B"},
            "effective_date": "2026-11-01",
            "reason": "whim",
        },
    )
    assert found == {
        "data.previous_name.given_names": "too_short",
        "data.previous_name.family_name": "too_long",
        "data.reason": "literal_error",
    }


def test_contact_change_normalises_and_checks_the_preferred_method(
    registry: SchemaRegistry,
) -> None:
    data = submit(
        registry,
        "contact.changed",
        {
            "phone": "01632 960 123",
            "email": "Ann@Example.ORG",
            "preferred_contact_method": "phone",
        },
    )
    assert data["phone"] == "+441632960123"
    assert data["email"] == "Ann@example.org"
    found = problems(
        registry, "contact.changed", {"phone": "12345", "preferred_contact_method": "post"}
    )
    assert found == {"data.phone": "value_error"}
    found = problems(registry, "contact.changed", {"preferred_contact_method": "email"})
    assert found == {"data": "value_error"}  # preferred email, but no email given


def test_consent_change(registry: SchemaRegistry) -> None:
    data = submit(
        registry,
        "consent.changed",
        {
            "action": "withdrawn",
            "purpose": "Keep care records current",
            "recipient": "adult-social-care",
            "effective_at": "2026-11-24T09:00:00Z",
        },
    )
    assert data["effective_at"] == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    found = problems(
        registry,
        "consent.changed",
        {
            "action": "granted",
            "purpose": "x",
            "effective_at": "2026-12-24T09:00:00Z",
        },
    )
    assert found == {"data.effective_at": "not_in_future"}


@pytest.mark.parametrize(
    ("nhs", "ok"), [("943 476 5919", True), ("9434765918", False), ("123", False)]
)
def test_person_link_checks_the_nhs_number(registry: SchemaRegistry, nhs: str, ok: bool) -> None:
    data = {"system": "adult-social-care", "local_id": "ASC-991", "nhs_number": nhs}
    if ok:
        assert submit(registry, "person.linked", data)["nhs_number"] == "9434765919"
    else:
        assert problems(registry, "person.linked", data) == {"data.nhs_number": "value_error"}


def test_correction_carries_valid_data_of_the_original_type(registry: SchemaRegistry) -> None:
    corrected = {"date_of_death": "2026-11-17", "verified_by": "registrar"}
    data = submit(
        registry,
        "correction",
        {
            "original_event_id": "evt-1",
            "original_event_type": "death.notified",
            "reason": "wrong date typed",
            "corrected_data": corrected,
        },
    )
    assert data["corrected_data"] == (
        '{"date_of_death": "2026-11-17", "informant": null, "verified_by": "registrar"}'
    )
    found = problems(
        registry,
        "correction",
        {
            "original_event_id": "evt-1",
            "original_event_type": "death.notified",
            "reason": "x",
            "corrected_data": {"date_of_death": "yesterday"},
        },
    )
    assert list(found) == ["data"]


def test_retraction(registry: SchemaRegistry) -> None:
    data = submit(
        registry,
        "retraction",
        {
            "original_event_id": "evt-1",
            "original_event_type": "address.changed",
            "reason": "sent in error",
        },
    )
    assert data["original_event_id"] == "evt-1"
    assert problems(
        registry,
        "retraction",
        {
            "original_event_id": "evt-1",
            "original_event_type": "consent.changed",
            "reason": "x",
        },
    ) == {"data.original_event_type": "literal_error"}


def test_date_of_death_cannot_be_in_the_future(registry: SchemaRegistry) -> None:
    found = problems(
        registry, "death.notified", {"date_of_death": "2026-11-25", "verified_by": "hospital"}
    )
    assert found == {"data.date_of_death": "not_in_future"}
    assert problems(
        registry, "death.notified", {"date_of_death": "1850-01-01", "verified_by": "hospital"}
    ) == {"data.date_of_death": "plausible_date"}


def test_effective_date_window_is_configurable(registry: SchemaRegistry) -> None:
    move = {"previous_address": ADDRESS, "new_address": ADDRESS}
    late = (NOW.date() + timedelta(days=91)).isoformat()
    assert problems(registry, "address.changed", {**move, "effective_date": late}) == {
        "data.effective_date": "effective_date_window"
    }
    wide = RuleConfig(effective_future_days=120)
    assert submit(registry, "address.changed", {**move, "effective_date": late}, wide)[
        "effective_date"
    ] == date.fromisoformat(late)


def gazetteer(tmp_path: Path) -> Gazetteer:
    csv = tmp_path / "llpg.csv"
    csv.write_text(
        "uprn,line1,line2,postcode,ward\n"
        "100023412345,7 Orchard Close,Exampleton,ex4 7qt,North\n"
        "100023336956,Flat 2,14 Mill Lane,EX1 2AB,South\n"
    )
    return Gazetteer.from_csv(csv)


def test_gazetteer_fills_the_canonical_address_and_refuses_unknown_uprns(
    registry: SchemaRegistry, tmp_path: Path
) -> None:
    rules = RuleConfig(gazetteer=gazetteer(tmp_path))
    sent = {"uprn": "100023412345", "lines": ["7 orchard cl"], "postcode": "EX4 7QT"}
    old = {"uprn": "100023336956", "lines": ["flat 2 mill lane"], "postcode": "EX1 2AB"}
    data = submit(
        registry,
        "address.changed",
        {"previous_address": old, "new_address": sent, "effective_date": "2026-11-20"},
        rules,
    )
    assert data["new_address"] == {
        "uprn": "100023412345",
        "lines": ["7 Orchard Close", "Exampleton"],
        "postcode": "EX4 7QT",
    }
    unknown = {**sent, "uprn": "999"}
    assert problems(
        registry,
        "address.changed",
        {"previous_address": old, "new_address": unknown, "effective_date": "2026-11-20"},
        rules,
    ) == {"data.new_address.uprn": "uprn_in_gazetteer"}
    # a move into the area: the previous address lies outside it and is not looked up
    into = submit(
        registry,
        "address.changed",
        {
            "previous_address": {**old, "uprn": "555"},
            "new_address": sent,
            "effective_date": "2026-11-20",
            "move_type": "into_area",
        },
        rules,
    )
    assert into["previous_address"]["uprn"] == "555"


def test_a_broken_gazetteer_names_file_and_line(tmp_path: Path) -> None:
    csv = tmp_path / "llpg.csv"
    csv.write_text("uprn,line1,postcode\n1,A,EX1 1AA\nABC,B,EX1 1AA\n2,C,nowhere\n")
    with pytest.raises(ConfigError) as info:
        Gazetteer.from_csv(csv)
    assert [(p.location, p.rule) for p in info.value.problems] == [
        (f"{csv}:3", "uprn"),
        (f"{csv}:4", "postcode"),
    ]
    missing = tmp_path / "bad.csv"
    missing.write_text("id,postcode\n")
    with pytest.raises(ConfigError, match="missing column"):
        Gazetteer.from_csv(missing)
