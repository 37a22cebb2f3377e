"""Validated payloads of each event type (pydantic models used at the edges)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})$")


def normalise_postcode(value: str) -> str:
    """Upper-case a UK postcode and put exactly one space before the inward code."""
    match = _POSTCODE.match(value.strip().upper())
    if match is None:
        raise ValueError("not a UK postcode (expected e.g. SW1A 1AA)")
    return f"{match.group(1)} {match.group(2)}"


Uprn = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}$")]
AddressLine = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Postcode = Annotated[str, AfterValidator(normalise_postcode)]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Address(_Payload):
    uprn: Uprn = Field(description="Unique Property Reference Number, 1 to 12 digits")
    lines: list[AddressLine] = Field(min_length=1, max_length=5)
    postcode: Postcode


class AddressChanged(_Payload):
    previous_address: Address
    new_address: Address
    effective_date: date


class DeathNotified(_Payload):
    date_of_death: date
    verified_by: Literal["registrar", "hospital", "coroner", "tell_us_once"]


PAYLOAD_MODELS: dict[str, type[_Payload]] = {
    "address.changed": AddressChanged,
    "death.notified": DeathNotified,
}

Payload = _Payload
