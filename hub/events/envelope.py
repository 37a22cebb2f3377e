"""The event envelope: CloudEvents 1.0 attributes, carried as Kafka headers (binary binding)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub.errors import CodecError

CE_SPECVERSION = "1.0"
CONTENT_TYPE = "application/avro"

EventId = str


class Envelope(BaseModel):
    """CloudEvents context attributes of one event."""

    model_config = ConfigDict(frozen=True)

    id: EventId = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
    source: str = Field(min_length=1, max_length=64)
    type: str
    subject: str = Field(
        min_length=1, max_length=128, description="The hub person the event is about"
    )
    time: AwareDatetime
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

_ATTRS = ("id", "source", "type", "subject", "time", "dataschema", "specversion", "correlationid")


def envelope_to_headers(envelope: Envelope) -> list[tuple[str, bytes]]:
    """CloudEvents Kafka binary binding: each attribute as a `ce_` header, plus content-type."""
    values = {
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "subject": envelope.subject,
        "time": envelope.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "dataschema": envelope.dataschema,
        "specversion": envelope.specversion,
        "correlationid": envelope.correlationid,
    }
    headers = [(f"ce_{name}", values[name].encode()) for name in _ATTRS if values[name]]
    headers.append(("content-type", CONTENT_TYPE.encode()))
    return headers


def envelope_from_headers(headers: Headers) -> Envelope:
    """Read the CloudEvents attributes back; missing or malformed ones raise CodecError."""
    found: dict[str, str] = {}
    for key, raw in headers:
        if key.startswith("ce_") and raw is not None:
            try:
                found[key[3:]] = raw.decode()
            except UnicodeDecodeError as exc:
                raise CodecError(f"header {key} is not UTF-8") from exc
    missing = [a for a in ("id", "source", "type", "subject", "time") if a not in found]
    if missing:
        raise CodecError(f"missing CloudEvents headers: {', '.join('ce_' + m for m in missing)}")
    try:
        time = datetime.fromisoformat(found["time"].replace("Z", "+00:00"))
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
