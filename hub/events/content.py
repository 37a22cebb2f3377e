"""The content of an event, as a hash: what makes a repeat of (source, event id) the same event.

Event ids are per source: the idempotency key is (source, event id). A repeat with the same
content (type, subject and validated data) is a duplicate; with other content, a conflict.
The envelope's time and correlation id are not content: a retry may stamp a new time.

The hash is taken of the validated data (`build_event` at the API, `accept_record` in the
router), so the same submission hashes alike whether it came over HTTP or back off Kafka
(times are compared to the millisecond, the precision Avro's timestamp-millis keeps).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from hub.events.envelope import Event


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="milliseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    raise TypeError(f"cannot hash a {type(value).__name__}")


# made once: `json.dumps` with these options builds a new encoder on every call (1 us an event)
_encode = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
).encode


def canonical_content(event_type: str, subject: str, data: dict[str, Any]) -> str:
    """Canonical JSON of an event's content: keys sorted, no spaces, times in UTC to the ms."""
    return _encode({"type": event_type, "subject": subject, "data": data})


def content_hash(event: Event) -> str:
    """SHA-256 (hex) of the event's canonical content (type, subject, data)."""
    env = event.envelope
    text = canonical_content(env.type, env.subject, event.data)
    return hashlib.sha256(b"tell-it-once/content\x1f" + text.encode()).hexdigest()
