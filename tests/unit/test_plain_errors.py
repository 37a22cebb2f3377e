"""Every pydantic error type the hub meets reads as plain English, never pydantic's wording."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from hub.config.model import Agreement, System, SystemsFile
from hub.plain_errors import closest, plain_message

LIBRARY_WORDS = (
    "Input should",
    "Input tag",
    "Extra inputs",
    "Field required",
    "not permitted",
    "does not match",
    "isoformat",
    "String should",
    "^",
    "Value error",
    "unicode string",
)


class _Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date = date(2026, 1, 1)
    count: int = Field(default=1, ge=1, le=64)
    ratio: float = 0.5
    flag: bool = False
    level: Literal["DEBUG", "INFO"] = "INFO"
    name: str = Field(default="x", min_length=1, max_length=5)
    items: tuple[str, ...] = Field(default=("a",), min_length=1)
    system: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")] = "waste"


def only_error(data: dict[str, Any], model: type[BaseModel] = _Sample) -> dict[str, Any]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    errors = info.value.errors()
    assert len(errors) == 1, errors
    return dict(errors[0])


@pytest.mark.parametrize(
    ("data", "kind", "expected"),
    [
        ({"day": "2028-13-31"}, "date_from_datetime_parsing", "month must be 1 to 12"),
        ({"day": "2028-02-30"}, "date_from_datetime_parsing", "that month has no such day"),
        ({"day": "31/12/2028"}, "date_from_datetime_parsing", "YYYY-MM-DD"),
        ({"count": "lots"}, "int_parsing", "whole number"),
        ({"count": 0}, "greater_than_equal", "at least 1"),
        ({"count": 99}, "less_than_equal", "at most 64"),
        ({"ratio": "half"}, "float_parsing", "a number"),
        ({"flag": "maybe"}, "bool_parsing", "true or false"),
        ({"level": "verbose"}, "literal_error", "expected 'DEBUG' or 'INFO'"),
        ({"name": ""}, "string_too_short", "must not be empty"),
        ({"name": "toolong"}, "string_too_long", "at most 5 characters"),
        ({"items": []}, "too_short", "must not be empty"),
        ({"items": "a"}, "tuple_type", "a list"),
        (
            {"system": "Waste Team"},
            "string_pattern_mismatch",
            "lower-case letters, digits and hyphens",
        ),
        ({"colour": "red"}, "extra_forbidden", "remove it, or check its spelling"),
        ({"name": 5}, "string_type", "expected text"),
    ],
)
def test_each_error_type_reads_as_plain_english(
    data: dict[str, Any], kind: str, expected: str
) -> None:
    error = only_error(data)
    assert error["type"] == kind
    message = plain_message(error)
    assert expected in message
    for words in LIBRARY_WORDS:
        assert words not in message, (words, message)


def test_an_unknown_delivery_kind_names_the_kinds_there_are() -> None:
    system = {
        "id": "waste",
        "name": "Waste",
        "roles": ["recipient"],
        "api_key_sha256": "a" * 64,
        "delivery": {"kind": "filedrop"},
    }
    error = only_error(system, System)
    assert error["type"] == "union_tag_invalid"
    assert (
        plain_message(error) == "'filedrop' is not a known kind: use 'inbox', 'webhook' or 'kafka'"
    )


def test_a_delivery_without_a_kind_says_to_add_one() -> None:
    system = {
        "id": "waste", "name": "Waste", "roles": ["recipient"], "api_key_sha256": "a" * 64,
        "delivery": {"url": "https://waste.example/hooks"},
    }  # fmt: skip
    error = only_error(system, System)
    assert error["type"] == "union_tag_not_found"
    assert "add `kind:`" in plain_message(error)


def test_a_missing_field_and_a_rule_of_the_model_itself() -> None:
    missing = only_error({}, SystemsFile)
    assert missing["type"] == "missing"
    assert plain_message(missing) == "required, but missing: add it"
    agreement = {
        "id": "DSA-9", "title": "t", "providers": ["a"], "recipients": ["b"],
        "shares": {"address.changed": ["uprn"]}, "purpose": "p", "lawful_basis": "b",
        "valid_from": "2026-01-01", "data_owner": "o", "review_by": "2027-01-01",
        "recipient_retention": "r", "special_category": True,
    }  # fmt: skip
    rule = only_error(agreement, Agreement)
    assert rule["type"] == "value_error"
    assert plain_message(rule) == (
        "special category data needs an article9_condition (UK GDPR Art. 9)"
    )


def test_closest_known_name() -> None:
    assert closest("apiport", ["api_port", "api_host", "data_dir"]) == "api_port"
    assert closest("zzz", ["api_port"]) is None
