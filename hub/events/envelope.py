"""The event envelope: CloudEvents 1.0 attributes, carried as Kafka headers (binary binding)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from hub.errors import CodecError
from hub.events.cloudevents import CloudEvent, headers

CE_SPECVERSION = "1.0"
CONTENT_TYPE = "application/avro"

EventId = str


EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


def _utc_time(value: datetime) -> datetime:
    """Event times are kept in UTC, and must be a plausible moment (years 1900 to 2999)."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("time is out of range") from exc
    if not EARLIEST_YEAR <= utc.year <= LATEST_YEAR:
        raise ValueError(f"time must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return utc


class Envelope(BaseModel):
    """CloudEvents context attributes of one event."""

    model_config = ConfigDict(frozen=True)

    id: EventId = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
    source: str = Field(min_length=1, max_length=64)
    type: str
    subject: str = Field(
        min_length=1, max_length=128, description="The hub person the event is about"
    )
    time: Annotated[AwareDatetime, AfterValidator(_utc_time)]
    dataschema: str = ""
    specversion: str = CE_SPECVERSION
    correlationid: str = Field(
        default="",
        max_length=128,
        description="CloudEvents extension: ties related events together",
    )


class Event(BaseModel):
    """An envelope with its validated data (plain JSON-compatible values)."""

    model_config = ConfigDict(frozen=True)

    envelope: Envelope
    data: dict[str, Any]


Headers = Sequence[tuple[str, bytes]]


def envelope_to_headers(envelope: Envelope) -> list[tuple[str, bytes]]:
    """CloudEvents Kafka binary binding: each attribute as a `ce_` header, plus content-type
    (made by `hub.events.cloudevents.headers`, as on every topic the hub writes)."""
    return headers(
        CloudEvent(
            id=envelope.id,
            type=envelope.type,
            source=envelope.source,
            time=envelope.time,
            content_type=CONTENT_TYPE,
            subject=envelope.subject,
            dataschema=envelope.dataschema,
            extensions=(("correlationid", envelope.correlationid),)
            if envelope.correlationid
            else (),
        )
    )


# The `ce_` headers an envelope is read from (others, and any other extension, are not read).
_ATTRIBUTES = {
    f"ce_{name}": name
    for name in (
        "id",
        "source",
        "type",
        "subject",
        "time",
        "dataschema",
        "specversion",
        "correlationid",
    )
}


def envelope_from_headers(headers: Headers) -> Envelope:
    """Read the CloudEvents attributes back; missing or malformed ones raise CodecError."""
    try:
        found = {
            _ATTRIBUTES[k]: v.decode() for k, v in headers if k in _ATTRIBUTES and v is not None
        }
    except UnicodeDecodeError as exc:
        raise CodecError(f"a ce_ header is not UTF-8: {exc}") from exc
    missing = [a for a in ("id", "source", "type", "subject", "time") if a not in found]
    if missing:
        raise CodecError(f"missing CloudEvents headers: {', '.join('ce_' + m for m in missing)}")
    try:
        time = datetime.fromisoformat(found["time"])  # RFC 3339, "Z" included
        return Envelope(
            id=found["id"],
            source=found["source"],
            type=found["type"],
            subject=found["subject"],
            time=time,
            dataschema=found.get("dataschema", ""),
            specversion=found.get("specversion", CE_SPECVERSION),
            correlationid=found.get("correlationid", ""),
        )
    except ValueError as exc:
        raise CodecError(f"malformed CloudEvents headers: {exc}") from exc
