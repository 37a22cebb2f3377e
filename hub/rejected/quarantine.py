"""Quarantine: records on the hub's internal topics that did not verify, kept whole.

A record on `deliveries.<recipient>`, `audit` or `events.rejected` that the hub did not sign
(produced by any other Kafka client) or that was altered after signing is never acted on: its
consumer logs it (topic, partition, offset), counts it, and keeps it here (bytes, headers, why)
so an operator can see who wrote what (`hub quarantine list`).
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from threading import Lock
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, RowMapping, delete, func, select

from hub.db.engine import any_found, insert_ignoring_duplicates
from hub.db.tables import QuarantinedRecord
from hub.rejected.store import Headers, headers_from_json, headers_to_json
from hub.signing.records import signing_input

_TABLE = QuarantinedRecord.__table__  # type: ignore[attr-defined]

_refused: Counter[tuple[str, str]] = Counter()
_refused_lock = Lock()


def count_refused(topic: str, reason: str, n: int = 1) -> None:
    """This process's tally of refused records (what /metrics can expose as a counter)."""
    with _refused_lock:
        _refused[(topic, reason)] += n


def refused_counts() -> dict[tuple[str, str], int]:
    """(topic, reason) -> records this process refused since it started."""
    with _refused_lock:
        return dict(_refused)


class Quarantined(BaseModel):
    """A refused record as kept."""

    model_config = ConfigDict(frozen=True)

    seq: int = 0
    quarantined_at: datetime
    consumer: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Headers
    reason: str

    @property
    def value_b64(self) -> str:
        return base64.b64encode(self.value).decode()

    def digest(self) -> str:
        """Same record at the same position: one row (a redelivered batch is not kept twice)."""
        body = signing_input(self.topic, self.key, self.value, self.headers)
        where = f"{self.topic}\x1f{self.partition}\x1f{self.offset}\x1f".encode()
        return hashlib.sha256(where + body).hexdigest()


class QuarantineStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, records: Sequence[Quarantined]) -> int:
        rows = [
            {
                "quarantined_at": r.quarantined_at,
                "consumer": r.consumer,
                "topic": r.topic,
                "record_partition": r.partition,
                "record_offset": r.offset,
                "key": r.key,
                "value": r.value,
                "headers": headers_to_json(r.headers),
                "reason": r.reason,
                "digest": r.digest(),
            }
            for r in records
        ]
        if not rows:
            return 0
        with self.engine.begin() as conn:
            return insert_ignoring_duplicates(conn, _TABLE, rows, "digest")

    def list(self, topic: str | None = None, limit: int = 100) -> list[Quarantined]:
        stmt = select(_TABLE).order_by(_TABLE.c.seq.desc()).limit(limit)
        if topic:
            stmt = stmt.where(_TABLE.c.topic == topic)
        with self.engine.connect() as conn:
            return [_quarantined(r._mapping) for r in conn.execute(stmt)]

    def has_topic(self, topic: str) -> bool:
        """Whether any quarantined record came from `topic` (one no longer the hub's, too)."""
        return any_found(self.engine, select(_TABLE.c.seq).where(_TABLE.c.topic == topic))

    def purge_before(self, cutoff: datetime, dry_run: bool = False) -> int:
        """Delete what was quarantined before `cutoff` (the values may hold personal data)."""
        where = _TABLE.c.quarantined_at < cutoff
        with self.engine.begin() as conn:
            if dry_run:
                count = select(func.count()).select_from(_TABLE).where(where)
                return int(conn.execute(count).scalar_one())
            return int(conn.execute(delete(_TABLE).where(where)).rowcount or 0)

    def counts(self) -> dict[tuple[str, str], int]:
        """(topic, reason) -> records kept: the durable counter, across every worker."""
        stmt = select(_TABLE.c.topic, _TABLE.c.reason, func.count()).group_by(
            _TABLE.c.topic, _TABLE.c.reason
        )
        with self.engine.connect() as conn:
            return {(t, r): int(n) for t, r, n in conn.execute(stmt)}


def _quarantined(m: Mapping[str, Any] | RowMapping) -> Quarantined:
    return Quarantined(
        seq=m["seq"],
        quarantined_at=m["quarantined_at"],
        consumer=m["consumer"],
        topic=m["topic"],
        partition=m["record_partition"],
        offset=m["record_offset"],
        key=m["key"],
        value=m["value"],
        headers=headers_from_json(m["headers"]),
        reason=m["reason"],
    )
