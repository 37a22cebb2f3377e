"""The audit hash chain: the canonical form of a row and the hash linking it to the one before.

canonical(row) = JSON array of the row's values in CHAINED_COLUMNS order (the column names sorted),
compact separators, UTF-8, datetimes as `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC, NULL as null.
row_hash = sha256_hex(prev_hash + canonical(row)); the first row's prev_hash is GENESIS (or the
hash of the last row purged, kept in a signed purge checkpoint).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from hub.timeutil import utc_text

GENESIS = "0" * 64

# Every stored column except the chain columns themselves, sorted by name.
CHAINED_COLUMNS: tuple[str, ...] = (
    "agreement_id",
    "agreement_version",
    "attempt",
    "decided_at",
    "delivery_id",
    "entry_id",
    "event_id",
    "event_time",
    "event_type",
    "fields",
    "http_status",
    "latency_ms",
    "lawful_basis",
    "local_id",
    "mode",
    "outcome",
    "purpose",
    "reason_codes",
    "reasons",
    "recipient",
    "recorded_at",
    "seq",
    "source",
    "subject_flags",
    "subject_key",
)
DATETIME_COLUMNS = frozenset({"decided_at", "event_time", "recorded_at"})

encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@lru_cache(maxsize=4096)  # a batch's rows share their recorded_at, and often decided_at
def canonical_time(value: datetime) -> str:
    """A moment as the chain spells it: UTC, microseconds, `Z` (naive values are taken as UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return utc_text(value, "T") + "Z"


def canonical(values: Sequence[Any]) -> str:
    """The canonical JSON of one row's values, given in CHAINED_COLUMNS order (times as strings)."""
    return encode_json(list(values))


def link(prev_hash: str, canonical_form: str) -> str:
    return hashlib.sha256((prev_hash + canonical_form).encode()).hexdigest()


_CHAINED = itemgetter(*CHAINED_COLUMNS)
_TIMES_AT = tuple(i for i, c in enumerate(CHAINED_COLUMNS) if c in DATETIME_COLUMNS)


def row_values(row: dict[str, Any]) -> list[Any]:
    """A row dict (as written) in CHAINED_COLUMNS order with datetimes canonicalised."""
    values = list(_CHAINED(row))
    for i in _TIMES_AT:
        if values[i] is not None:
            values[i] = canonical_time(values[i])
    return values


def sign(secret: str, message: str) -> str:
    """HMAC-SHA256 (hex) of a checkpoint's statement under the hub's checkpoint key."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signature_ok(secret: str, message: str, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, message), signature)


def as_utc(value: datetime) -> datetime:
    """A datetime as stored: UTC (SQLite keeps the wall time it is given, so normalise first)."""
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
