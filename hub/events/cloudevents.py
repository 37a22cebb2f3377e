"""The one CloudEvents envelope of every record the hub writes to Kafka (binary content mode).

Every topic, the same attributes as `ce_` headers plus `content-type`: `ce_specversion` 1.0,
`ce_id` stable per record (a redelivered record carries the same id), `ce_source`, `ce_type`,
`ce_time`, and `ce_subject` / `ce_dataschema` where the record has them. `headers` below is the
only place `ce_` headers are made; the builders under it say what each kind of record carries.

One naming scheme for `ce_type` on every topic: the event type the record is about
(`address.changed`), as the source published it. What kind of record it is (the event itself, a
routed delivery, a delivery to a recipient, an audit entry, a rejection, a dead letter) is said
by the topic and by `ce_dataschema` (`urn:tellitonce:schema:<record>:v<n>`). `ce_source` is the
source system's id on the events topics (the source wrote the event) and `urn:tellitonce:hub`
on everything the hub writes about it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from hub.delivery.shape import DeliveryMessage, message_id
from hub.routing.messages import AuditEntry, Delivery

SPECVERSION = "1.0"
HUB_SOURCE = "urn:tellitonce:hub"
JSON = "application/json"
AVRO = "application/avro"
DELIVERY_SCHEMA = "urn:tellitonce:schema:delivery:v2"  # recipient topics, dead letters
ROUTED_SCHEMA = "urn:tellitonce:schema:routed-delivery:v1"  # deliveries.<recipient> (internal)
AUDIT_SCHEMA = "urn:tellitonce:schema:audit-entry:v1"  # audit (internal)
REJECTED_SCHEMA = "urn:tellitonce:schema:rejected-record:v1"  # events.rejected (internal)
UNKNOWN_TYPE = "unknown"  # a rejected record that names no (well-formed) event type
ORIGINAL_PREFIX = "original."
"""On `events.rejected`, the rejected record's own headers, each under this prefix ..."""
ORIGINAL_B64_PREFIX = "original64."
"""... or this one, base64, when the value is not UTF-8 (every header stays readable text)."""

_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class CloudEvent(NamedTuple):
    """The attributes of one record (the data is the record's value). A NamedTuple: built once
    per record on the hot path, it costs a fraction of a frozen dataclass."""

    id: str
    type: str
    source: str
    time: datetime
    content_type: str
    subject: str = ""
    dataschema: str = ""
    extensions: tuple[tuple[str, str], ...] = ()  # lowercase alphanumeric names


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@lru_cache(maxsize=4096)
def _time(moment: datetime) -> bytes:
    """One event's time, encoded once for all its deliveries and audit entries."""
    return rfc3339(moment).encode()


@lru_cache(maxsize=1024)
def _text(value: str) -> bytes:
    """Few distinct values (sources, types, content types, schemas): encoded once each."""
    return value.encode()


def headers(ce: CloudEvent) -> list[tuple[str, bytes]]:
    """The CloudEvents Kafka binary-mode headers of one record: the only maker of `ce_` headers."""
    out = [
        ("ce_specversion", b"1.0"),
        ("ce_id", ce.id.encode()),
        ("ce_source", _text(ce.source)),
        ("ce_type", _text(ce.type)),
    ]
    if ce.subject:
        out.append(("ce_subject", ce.subject.encode()))
    out.append(("ce_time", _time(ce.time)))
    if ce.dataschema:
        out.append(("ce_dataschema", _text(ce.dataschema)))
    if ce.extensions:
        out += [(f"ce_{k}", v.encode()) for k, v in ce.extensions]
    out.append(("content-type", _text(ce.content_type)))
    return out


def routed_record(delivery: Delivery) -> tuple[bytes, list[tuple[str, bytes]]]:
    """A routed delivery on `deliveries.<recipient>`: its JSON and headers. `ce_id` is the id of
    the message the recipient will get (stable across retries, new for a replay)."""
    ce = CloudEvent(
        id=message_id(delivery),
        type=delivery.event_type,
        source=HUB_SOURCE,
        time=delivery.event_time,
        content_type=JSON,
        subject=delivery.subject,
        dataschema=ROUTED_SCHEMA,
    )
    return delivery.model_dump_json().encode(), headers(ce)


def audit_record(entry: AuditEntry) -> tuple[bytes, list[tuple[str, bytes]]]:
    """An audit entry on `audit`: its JSON and headers. `ce_id` is the entry id (one per
    decision or attempt), `ce_time` when it was decided; no subject (the key is pseudonymous)."""
    ce = CloudEvent(
        id=entry.entry_id,
        type=entry.event_type,
        source=HUB_SOURCE,
        time=entry.decided_at,
        content_type=JSON,
        dataschema=AUDIT_SCHEMA,
    )
    return entry.model_dump_json().encode(), headers(ce)


def message_headers(
    message: DeliveryMessage, content_type: str, **extensions: str
) -> list[tuple[str, bytes]]:
    """A delivery message (contract v2) on a recipient's topic or the dead-letter topic."""
    return headers(
        CloudEvent(
            id=message.delivery_id,
            type=message.type,
            source=HUB_SOURCE,
            time=message.time,
            content_type=content_type,
            subject=message.subject,
            dataschema=DELIVERY_SCHEMA,
            extensions=tuple(sorted(extensions.items())),
        )
    )


def rejected_headers(
    original: Sequence[tuple[str, bytes]],
    topic: str,
    partition: int,
    offset: int,
    at: datetime,
) -> list[tuple[str, bytes]]:
    """A rejected record on `events.rejected`: the hub's envelope, then the record's own
    headers (signature already dropped), each under `original.`. `ce_id` derives from where the
    record was read (stable when it is rejected again), `ce_type` is the type it claims."""
    claimed = next((v for k, v in original if k == "ce_type"), b"").decode(errors="replace")
    position = f"tell-it-once/rejected/v1\x1f{topic}\x1f{partition}\x1f{offset}"
    ce = CloudEvent(
        id="rej_" + hashlib.sha256(position.encode()).hexdigest()[:32],
        type=claimed if _TYPE_NAME.match(claimed) and len(claimed) <= 64 else UNKNOWN_TYPE,
        source=HUB_SOURCE,
        time=at,
        content_type=next(
            (v.decode(errors="replace") for k, v in original if k == "content-type"),
            "application/octet-stream",
        ),
        dataschema=REJECTED_SCHEMA,
    )
    return [*headers(ce), *(_kept(k, v) for k, v in original)]


def _kept(name: str, value: bytes) -> tuple[str, bytes]:
    try:
        value.decode()
    except UnicodeDecodeError:
        return ORIGINAL_B64_PREFIX + name, base64.b64encode(value)
    return ORIGINAL_PREFIX + name, value


def original_headers(
    rejected: Sequence[tuple[str, bytes | None]],
) -> list[tuple[str, bytes]] | None:
    """The rejected record's own headers back from an `events.rejected` record (None: written
    before they were kept under `original.`, when they were the record's headers as they are)."""
    if ("ce_dataschema", REJECTED_SCHEMA.encode()) not in rejected:
        return None
    out: list[tuple[str, bytes]] = []
    for name, value in rejected:
        if name.startswith(ORIGINAL_PREFIX):
            out.append((name[len(ORIGINAL_PREFIX) :], value or b""))
        elif name.startswith(ORIGINAL_B64_PREFIX):
            out.append((name[len(ORIGINAL_B64_PREFIX) :], base64.b64decode(value or b"")))
    return out
