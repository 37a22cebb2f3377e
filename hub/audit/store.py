"""The SQL audit store: batched idempotent writes, and reads for IG and the demo."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, Engine, RowMapping, select
from sqlalchemy.exc import IntegrityError

from hub.audit.bounds import in_chain
from hub.audit.chain import as_utc
from hub.audit.ledger import AUDIT, append_locked, lock_head
from hub.routing.messages import AuditEntry, AuditReason, Delivery, Outcome

_TABLE = AUDIT
_Item = TypeVar("_Item")
SQLITE_CACHE_KIB = 65_536


@lru_cache(maxsize=1024)  # an agreement's field names, the same for every row it shares
def json_list(names: tuple[str, ...]) -> str:
    return json.dumps(list(names))


@lru_cache(maxsize=1024)  # withheld entries share a few reasons (no agreement, no consent, ...)
def reasons_json(reasons: tuple[AuditReason, ...]) -> str:
    return json.dumps([r.model_dump() for r in reasons], separators=(",", ":"))


def entry_row(e: AuditEntry, recorded_at: datetime) -> dict[str, Any]:
    """The stored form of an entry: every field, names and references only."""
    return {
        "entry_id": e.entry_id,
        "recorded_at": recorded_at,
        "delivery_id": e.delivery_id,
        "event_id": e.event_id,
        "event_type": e.event_type,
        "source": e.source,
        "recipient": e.recipient,
        "subject_key": e.subject_key,
        "outcome": e.outcome.value,
        "reason_codes": ",".join(r.code for r in e.reasons),
        "reasons": reasons_json(e.reasons) if e.reasons else "[]",
        "agreement_id": e.agreement_id,
        "agreement_version": e.agreement_version,
        "lawful_basis": e.lawful_basis,
        "fields": json_list(e.fields),
        "event_time": as_utc(e.event_time),
        "decided_at": as_utc(e.decided_at),
        "mode": e.mode.value,
        "local_id": e.local_id,
        "purpose": e.purpose,
        "subject_flags": json_list(e.subject_flags),
        "attempt": e.attempt,
        "http_status": e.http_status,
        # rounded to the microsecond (and no -0.0): SQLite's JSON spells these as Python does
        "latency_ms": None if e.latency_ms is None else round(e.latency_ms, 3) + 0.0,
    }


def delivered_row(d: Delivery, recorded_at: datetime) -> dict[str, Any]:
    """`entry_row(delivered_entry(d, at), at)` without building the entry: the stored form of
    a pull-inbox hand-over, on the hot path (a unit test keeps the two equal)."""
    at = as_utc(recorded_at)
    return {
        "entry_id": AuditEntry.make_id(d.delivery_id, Outcome.DELIVERED, d.mode, d.decided_at),
        "recorded_at": at,
        "delivery_id": d.delivery_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "source": d.source,
        "recipient": d.recipient,
        "subject_key": d.subject_key,
        "outcome": Outcome.DELIVERED.value,
        "reason_codes": "",
        "reasons": "[]",
        "agreement_id": d.agreement_id,
        "agreement_version": d.agreement_version,
        "lawful_basis": d.lawful_basis,
        "fields": json_list(d.fields),
        "event_time": as_utc(d.event_time),
        "decided_at": at,
        "mode": d.mode.value,
        "local_id": d.local_id,
        "purpose": d.purpose,
        "subject_flags": json_list(d.subject_flags),
        "attempt": None,
        "http_status": None,
        "latency_ms": None,
    }


class AuditRow(BaseModel):
    """An audit record as read back from the store."""

    model_config = ConfigDict(frozen=True)

    seq: int
    recorded_at: datetime
    event_id: str
    event_type: str
    source: str
    recipient: str
    subject_key: str
    outcome: str
    reason_codes: tuple[str, ...]
    reasons: tuple[str, ...]
    agreement_id: str | None
    agreement_version: str | None
    lawful_basis: str | None
    fields: tuple[str, ...]
    delivery_id: str
    event_time: datetime
    decided_at: datetime
    entry_id: str = ""
    reason_details: tuple[AuditReason, ...] = ()
    mode: str = "live"
    local_id: str | None = None
    purpose: str | None = None
    subject_flags: tuple[str, ...] = ()
    attempt: int | None = None
    http_status: int | None = None
    latency_ms: float | None = None
    row_hash: str = ""


class AuditFilter(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_ids: tuple[str, ...] = ()
    recipient: str | None = None
    outcome: str | None = None
    after_seq: int = 0
    limit: int = 100


class AuditStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, entries: Sequence[AuditEntry], recorded_at: datetime) -> int:
        """Append a batch to the chain in one transaction; entries already recorded
        (redelivery) are skipped. Returns how many rows were appended.

        Redelivery is rare, so the batch is first appended as it is; if an entry is already
        there (unique entry_id), that transaction rolls back and the batch is appended again
        without the entries already recorded.
        """
        unique = list({e.entry_id: e for e in entries}.values())
        if not unique:
            return 0
        at = as_utc(recorded_at)
        try:
            return self._append(unique, at, skip_recorded=False)
        except IntegrityError:
            return self._append(unique, at, skip_recorded=True)

    def _append(self, entries: list[AuditEntry], at: datetime, skip_recorded: bool) -> int:
        with self.engine.begin() as conn:
            return append_in(conn, entries, at, skip_recorded)

    def query(self, flt: AuditFilter) -> list[AuditRow]:
        # rows outside the chain (seq <= 0, past the head) are not audit: never shown
        stmt = select(_TABLE).where(_TABLE.c.seq > flt.after_seq, in_chain())
        if flt.event_ids:
            stmt = stmt.where(_TABLE.c.event_id.in_(flt.event_ids))
        if flt.recipient:
            stmt = stmt.where(_TABLE.c.recipient == flt.recipient)
        if flt.outcome:
            stmt = stmt.where(_TABLE.c.outcome == flt.outcome)
        stmt = stmt.order_by(_TABLE.c.seq).limit(flt.limit)
        with self.engine.connect() as conn:
            return [audit_row(r._mapping) for r in conn.execute(stmt)]

    def count(self) -> int:
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(_TABLE)).scalar_one())


def append_in(
    conn: Connection, entries: Sequence[AuditEntry], at: datetime, skip_recorded: bool
) -> int:
    """Append entries to the chain inside the caller's transaction (it holds the chain's lock
    from here to its end). With `skip_recorded`, entries already recorded are left out; without
    it, one already recorded raises IntegrityError (the caller retries with it). Each entry is
    put in its stored form as the insert takes it (`ledger.chained`)."""
    head = _lock_for_append(conn)
    if skip_recorded:
        entries = _unrecorded(conn, entries, lambda e: (e.event_id, e.entry_id))
    append_locked(conn, (entry_row(e, at) for e in entries), head)
    return len(entries)


def append_rows(conn: Connection, rows: Sequence[dict[str, Any]], skip_recorded: bool) -> int:
    """`append_in` for rows already in their stored form (`entry_row`, `delivered_row`)."""
    head = _lock_for_append(conn)
    if skip_recorded:
        rows = _unrecorded(conn, rows, lambda r: (r["event_id"], r["entry_id"]))
    append_locked(conn, rows, head)
    return len(rows)


def _lock_for_append(conn: Connection) -> tuple[int, str]:
    if conn.dialect.name == "sqlite":
        # the chain's indexes grow with every row: keep their hot pages in memory
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    return lock_head(conn)


def _unrecorded(
    conn: Connection, items: Sequence[_Item], key: Callable[[_Item], tuple[str, str]]
) -> list[_Item]:
    """The items whose (event id, entry id) the chain does not hold yet, in their order
    (searched by event id: the unique index leads with it)."""
    keys = [key(item) for item in items]
    wanted = set(keys)
    event_ids = sorted({event_id for event_id, _ in wanted})
    seen: set[tuple[str, str]] = set()
    for i in range(0, len(event_ids), 500):
        found = conn.execute(
            select(_TABLE.c.event_id, _TABLE.c.entry_id).where(
                _TABLE.c.event_id.in_(event_ids[i : i + 500])
            )
        )
        seen.update(k for k in map(tuple, found) if k in wanted)
    return [item for item, k in zip(items, keys, strict=True) if k not in seen]


def _reasons(text: str) -> tuple[AuditReason, ...]:
    """Stored reasons: objects (code, message, agreement_id); rows before 0005 kept messages."""
    return tuple(
        AuditReason.model_validate(r) if isinstance(r, dict) else AuditReason(code="", message=r)
        for r in json.loads(text or "[]")
    )


def audit_row(m: RowMapping | Mapping[str, Any]) -> AuditRow:
    reasons = _reasons(m["reasons"])
    return AuditRow(
        seq=m["seq"],
        recorded_at=as_utc(m["recorded_at"]),
        entry_id=m["entry_id"],
        event_id=m["event_id"],
        event_type=m["event_type"],
        source=m["source"],
        recipient=m["recipient"],
        subject_key=m["subject_key"],
        outcome=m["outcome"],
        reason_codes=tuple(c for c in m["reason_codes"].split(",") if c),
        reasons=tuple(r.message for r in reasons),
        reason_details=reasons,
        agreement_id=m["agreement_id"],
        agreement_version=m["agreement_version"],
        lawful_basis=m["lawful_basis"],
        fields=tuple(json.loads(m["fields"])),
        delivery_id=m["delivery_id"],
        event_time=as_utc(m["event_time"]),
        decided_at=as_utc(m["decided_at"]),
        mode=m["mode"],
        local_id=m["local_id"],
        purpose=m["purpose"],
        subject_flags=tuple(json.loads(m["subject_flags"] or "[]")),
        attempt=m["attempt"],
        http_status=m["http_status"],
        latency_ms=m["latency_ms"],
        row_hash=m["row_hash"],
    )
