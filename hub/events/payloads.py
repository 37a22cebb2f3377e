"""Validated payloads of each event type (pydantic models used at the edges).

Structural rules live here (types, formats, lengths, check digits); rules that need the
clock or the gazetteer live in `hub.events.rules`.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from hub.events.safe_json import JsonRejected, load_json
from hub.plain_errors import plain_message

_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})$")
_UK_PHONE = re.compile(r"^(?:\+44|0044|0)([1-9][0-9]{8,9})$")


def normalise_postcode(value: str) -> str:
    """Upper-case a UK postcode and put exactly one space before the inward code."""
    match = _POSTCODE.match(value.strip().upper())
    if match is None:
        raise ValueError("not a UK postcode (expected e.g. SW1A 1AA)")
    return f"{match.group(1)} {match.group(2)}"


def normalise_uk_phone(value: str) -> str:
    """A UK phone number in +44 form; spaces, dashes and brackets are ignored."""
    digits = re.sub(r"[\s\-()]", "", value)
    match = _UK_PHONE.match(digits)
    if match is None:
        raise ValueError("not a UK phone number (expected e.g. 01632 960123 or +44 7700 900123)")
    return "+44" + match.group(1)


def check_nhs_number(value: str) -> str:
    """10 digits whose last is the modulus 11 check digit of the first nine."""
    digits = re.sub(r"\s", "", value)
    if not re.fullmatch(r"[0-9]{10}", digits):
        raise ValueError("an NHS number has 10 digits")
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    if check == 10 or check != int(digits[9]):
        raise ValueError("NHS number check digit does not match")
    return digits


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


Uprn = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}$")]
Text = Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=100)]
LongText = Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=500)]
Postcode = Annotated[str, AfterValidator(normalise_postcode)]
Phone = Annotated[str, AfterValidator(normalise_uk_phone)]
NhsNumber = Annotated[str, AfterValidator(check_nhs_number)]
SystemRef = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
EventRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:\-]{1,128}$")]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Address(_Payload):
    uprn: Uprn = Field(description="Unique Property Reference Number, 1 to 12 digits")
    lines: list[Text] = Field(min_length=1, max_length=5)
    postcode: Postcode


class AddressChanged(_Payload):
    previous_address: Address
    new_address: Address
    effective_date: date
    move_type: Literal["within_area", "into_area", "out_of_area"] = "within_area"


class Informant(_Payload):
    name: Text
    relationship: Annotated[str, StringConstraints(min_length=1, max_length=50)]


class DeathNotified(_Payload):
    date_of_death: date
    verified_by: Literal["registrar", "hospital", "coroner", "tell_us_once"]
    informant: Informant | None = None


class PersonName(_Payload):
    title: Annotated[str, StringConstraints(min_length=1, max_length=20)] | None = None
    given_names: Text
    family_name: Text


class NameChanged(_Payload):
    previous_name: PersonName
    new_name: PersonName
    effective_date: date
    reason: Literal["marriage", "civil_partnership", "divorce", "deed_poll", "other"]


class ContactChanged(_Payload):
    phone: Phone | None = None
    email: EmailStr | None = None
    preferred_contact_method: Literal["email", "phone", "post", "none"]

    @model_validator(mode="after")
    def _preferred_is_held(self) -> ContactChanged:
        if self.preferred_contact_method == "email" and self.email is None:
            raise ValueError("preferred_contact_method is email but no email is given")
        if self.preferred_contact_method == "phone" and self.phone is None:
            raise ValueError("preferred_contact_method is phone but no phone is given")
        return self


class ConsentChanged(_Payload):
    action: Literal["granted", "withdrawn", "objection"]
    purpose: LongText
    recipient: SystemRef | None = None
    effective_at: AwareDatetime


class PersonLinked(_Payload):
    system: SystemRef
    local_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    nhs_number: NhsNumber | None = None


class Correction(_Payload):
    original_event_id: EventRef
    original_event_type: Literal[
        "address.changed", "death.notified", "name.changed", "contact.changed"
    ]
    reason: LongText
    corrected_data: str = Field(
        max_length=10_000, description="The corrected data, a JSON object of the original type"
    )

    @field_validator("corrected_data", mode="before")
    @classmethod
    def _object_to_json(cls, value: Any) -> Any:
        return json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _corrected_data_fits_the_original_type(self) -> Correction:
        try:
            parsed = load_json(self.corrected_data, what="corrected_data")
        except JsonRejected as exc:
            raise ValueError(str(exc)) from exc
        model = PAYLOAD_MODELS[self.original_event_type]
        try:
            canonical = model.model_validate(parsed).model_dump(mode="json")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(
                f"corrected_data is not a valid {self.original_event_type}: {where}: {plain_message(first)}"
            ) from exc
        object.__setattr__(self, "corrected_data", json.dumps(canonical, sort_keys=True))
        return self


class Retraction(_Payload):
    original_event_id: EventRef
    original_event_type: Literal[
        "address.changed", "death.notified", "name.changed", "contact.changed"
    ]
    reason: LongText


PAYLOAD_MODELS: dict[str, type[_Payload]] = {
    "address.changed": AddressChanged,
    "death.notified": DeathNotified,
    "name.changed": NameChanged,
    "contact.changed": ContactChanged,
    "consent.changed": ConsentChanged,
    "person.linked": PersonLinked,
    "correction": Correction,
    "retraction": Retraction,
}
