"""The identity stores: service record extracts, clerical candidate pairs, links with
provenance and the link log (every link and unlink, automatic or human)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal, get_args

from sqlalchemy import Engine, RowMapping, and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.audit.ledger import append_locked, lock_head
from hub.db.tables import IdentityLink, IdentityLinkLog, MatchCandidate, ServiceRecord
from hub.identity.extracts import FIELDS, ExtractBatch, blocking_keys
from hub.identity.linkaudit import LinkFact, audit_rows
from hub.identity.model import FieldResult
from hub.identity.normalise import PersonFields

_REC = ServiceRecord.__table__  # type: ignore[attr-defined]
_CAND = MatchCandidate.__table__  # type: ignore[attr-defined]
_LINK = IdentityLink.__table__  # type: ignore[attr-defined]
_LOG = IdentityLinkLog.__table__  # type: ignore[attr-defined]
_CHUNK = 500
# A candidate pair's status: waiting (open, not_sure), decided, or superseded by a later link.
PairStatus = Literal["open", "not_sure", "accepted", "rejected", "superseded"]
PAIR_STATUSES: tuple[str, ...] = get_args(PairStatus)
_PERSON = FIELDS


def _insert(conn: Any) -> Any:
    return (sqlite if conn.dialect.name == "sqlite" else postgresql).insert


def person_of(m: RowMapping) -> PersonFields:
    return PersonFields(**{f: m[f] for f in _PERSON})


_KEY_COLUMNS = frozenset({"k_postcode", "k_uprn", "k_dob", "k_names"})
_DOB = 1 + _PERSON.index("date_of_birth")  # in a candidate row: system, then the fields


@lru_cache(maxsize=256)
def _candidates_sql(shape: tuple[tuple[str, int], ...], mark: str, limit: int) -> str:
    """UNION ALL of one limited, indexed lookup per (system, key column with n values)."""
    cols = ", ".join(("system", *_PERSON))
    selects = []
    for i, (col, n) in enumerate(shape):
        if col not in _KEY_COLUMNS:
            raise ValueError(f"not a blocking key column: {col!r}")
        marks = ", ".join([mark] * n)
        selects.append(
            f"SELECT {cols} FROM (SELECT {cols} FROM service_record WHERE system = {mark} "
            f"AND {col} IN ({marks}) LIMIT {limit}) AS c{i}"
        )
    return " UNION ALL ".join(selects)


def _person_row(row: Sequence[Any]) -> PersonFields:
    """A candidate row (system, then the person's fields) as PersonFields; SQLite's driver
    hands the date of birth back as ISO text."""
    values = list(row[1:])
    dob = row[_DOB]
    if isinstance(dob, str):
        values[_DOB - 1] = date.fromisoformat(dob)
    return PersonFields(*values)


@dataclass(frozen=True)
class ExtractResult:
    system: str
    upserted: int
    deleted: int


class ServiceRecords:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def apply(
        self, system: str, batch: ExtractBatch, at: datetime, full_refresh: bool = False
    ) -> ExtractResult:
        """Upsert by (system, local_id), delete flagged records; a full refresh also deletes
        every record of the system the batch does not hold."""
        rows = [
            {"system": system, **{f: getattr(p, f) for f in _PERSON}, **blocking_keys(p)}
            | {"updated_at": at}
            for p in batch.upserts
        ]
        deleted = 0
        with self.engine.begin() as conn:
            if full_refresh:
                deleted += int(
                    conn.execute(delete(_REC).where(_REC.c.system == system)).rowcount or 0
                )
            for i in range(0, len(rows), _CHUNK):
                ins = _insert(conn)(_REC)
                chunk = rows[i : i + _CHUNK]
                conn.execute(
                    ins.on_conflict_do_update(
                        index_elements=["system", "local_id"],
                        set_={
                            c: ins.excluded[c] for c in chunk[0] if c not in ("system", "local_id")
                        },
                    ),
                    chunk,
                )
            for i in range(0, len(batch.deletions), _CHUNK):
                ids = list(batch.deletions[i : i + _CHUNK])
                deleted += int(
                    conn.execute(
                        delete(_REC).where((_REC.c.system == system) & _REC.c.local_id.in_(ids))
                    ).rowcount
                    or 0
                )
        if full_refresh:
            deleted = max(0, deleted - len(rows))
        return ExtractResult(system, len(rows), deleted)

    def get(self, system: str, local_id: str) -> PersonFields | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_REC).where((_REC.c.system == system) & (_REC.c.local_id == local_id))
            ).first()
        return person_of(row._mapping) if row is not None else None

    def find(self, systems: Sequence[str], local_id: str) -> PersonFields | None:
        """The first of `systems` (in order) holding a record with this local id."""
        for system in systems:
            if (p := self.get(system, local_id)) is not None:
                return p
        return None

    def candidates(
        self, systems: Sequence[str], keys: Mapping[str, Sequence[str]], limit: int = 50
    ) -> dict[str, list[PersonFields]]:
        """Records of each system sharing a blocking key with the probe: one indexed lookup per
        (system, key), at most `limit` records each, in one statement. The hot path of scoring
        one event: the SQL text is built once per shape and run on the driver directly."""
        parts = [(s, col, tuple(values)) for s in systems for col, values in keys.items() if values]
        out: dict[str, list[PersonFields]] = {s: [] for s in systems}
        if not parts:
            return out
        seen: set[tuple[str, str]] = set()
        with self.engine.connect() as conn:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            sql = _candidates_sql(tuple((col, len(v)) for _, col, v in parts), mark, int(limit))
            params: list[Any] = []
            for system, _, values in parts:
                params.append(system)
                params.extend(values)
            for row in conn.exec_driver_sql(sql, tuple(params)):
                system, local_id = row[0], row[1]
                if (system, local_id) in seen:
                    continue
                seen.add((system, local_id))
                out[system].append(_person_row(row))
        return out

    def all(self, system: str) -> Iterator[PersonFields]:
        with self.engine.connect() as conn:
            for row in conn.execute(select(_REC).where(_REC.c.system == system)):
                yield person_of(row._mapping)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                r[0]: int(r[1])
                for r in conn.execute(select(_REC.c.system, func.count()).group_by(_REC.c.system))
            }

    def purge(self, before: datetime, dry_run: bool = False) -> int:
        """Retention: records not refreshed since `before` are deleted (or counted)."""
        old = _REC.c.updated_at < before
        with self.engine.begin() as conn:
            if dry_run:
                return int(
                    conn.execute(select(func.count()).select_from(_REC).where(old)).scalar_one()
                )
            return int(conn.execute(delete(_REC).where(old)).rowcount or 0)


@dataclass(frozen=True)
class NewLink:
    subject: str
    system: str
    local_id: str
    method: str  # auto | clerical | bulk
    probability: float | None
    model_version: str | None
    agreeing: tuple[str, ...]
    decided_by: str | None
    event_id: str


@dataclass(frozen=True)
class CandidatePair:
    seq: int
    source: str
    event_id: str
    event_type: str
    subject: str
    system: str
    local_id: str
    probability: float
    model_version: str
    fields: tuple[FieldResult, ...]
    status: str
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None


@dataclass(frozen=True)
class LinkRow:
    subject: str
    system: str
    local_id: str
    method: str
    probability: float | None
    model_version: str | None
    agreeing: tuple[str, ...]
    decided_by: str | None
    event_id: str
    linked_at: datetime


def _fields_json(fields: Iterable[FieldResult]) -> str:
    return json.dumps(
        [
            {"field": f.field, "level": f.level, "verdict": f.verdict, "weight": f.weight}
            for f in fields
        ]
    )


def _candidate(m: RowMapping) -> CandidatePair:
    return CandidatePair(
        seq=m["seq"],
        source=m["source"],
        event_id=m["event_id"],
        event_type=m["event_type"],
        subject=m["subject"],
        system=m["system"],
        local_id=m["local_id"],
        probability=m["probability"],
        model_version=m["model_version"],
        fields=tuple(FieldResult(**f) for f in json.loads(m["fields"])),
        status=m["status"],
        created_at=m["created_at"],
        decided_by=m["decided_by"],
        decided_at=m["decided_at"],
    )


def _link_row(m: RowMapping) -> LinkRow:
    return LinkRow(
        subject=m["subject"],
        system=m["system"],
        local_id=m["local_id"],
        method=m["method"],
        probability=m["match_probability"],
        model_version=m["model_version"],
        agreeing=tuple(json.loads(m["agreeing"])) if m["agreeing"] else (),
        decided_by=m["decided_by"],
        event_id=m["event_id"],
        linked_at=m["linked_at"],
    )


def _fact(action: str, m: Mapping[str, Any]) -> LinkFact:
    """A link log row (as written) as the audit trail's fact."""
    agreeing = m.get("agreeing")
    return LinkFact(
        action=action,
        method=m["method"],
        subject=m["subject"],
        system=m["system"],
        local_id=m["local_id"],
        probability=m["probability"],
        model_version=m["model_version"],
        agreeing=tuple(json.loads(agreeing)) if agreeing else (),
        decided_by=m["decided_by"],
        event_id=m["event_id"],
    )


def log_and_audit(
    conn: Any,
    secret: str,
    head: tuple[int, str],
    log_rows: Sequence[Mapping[str, Any]],
    at: datetime,
) -> tuple[int, str]:
    """Write link log rows and their audit entries inside the caller's transaction, whose first
    statement took the chain's lock (`lock_head`, which returned `head`). Returns the new head."""
    if not log_rows:
        return head
    conn.execute(_LOG.insert(), list(log_rows))
    facts = [_fact(r["action"], r) for r in log_rows]
    return append_locked(conn, audit_rows(secret, facts, at), head)


class MatchStore:
    """Links with provenance, their log, and the candidate pairs waiting for a person.

    Every row of the link log is also appended to the hash-chained audit trail, in the same
    transaction (references only: hub.identity.linkaudit), so `hub audit verify` covers links
    and IG finds them by the person's hub id. `secret` is the pseudonym key (HUB_PSEUDONYM_KEY).
    """

    def __init__(self, engine: Engine, secret: str) -> None:
        self.engine = engine
        self.secret = secret

    def link(self, links: Sequence[NewLink], at: datetime) -> None:
        """Write links (one per person and system: a newer link replaces an older), log them
        and audit them."""
        if not links:
            return
        latest = {(lk.subject, lk.system): lk for lk in links}
        with self.engine.begin() as conn:
            head = lock_head(conn)  # first: the chain's lock orders this transaction
            ins = _insert(conn)(_LINK)
            rows = [
                {
                    "subject": lk.subject,
                    "system": lk.system,
                    "local_id": lk.local_id,
                    "event_id": lk.event_id,
                    "linked_at": at,
                    "method": lk.method,
                    "match_probability": lk.probability,
                    "model_version": lk.model_version,
                    "agreeing": json.dumps(list(lk.agreeing)),
                    "decided_by": lk.decided_by,
                }
                for lk in latest.values()
            ]
            for i in range(0, len(rows), _CHUNK):
                chunk = rows[i : i + _CHUNK]
                conn.execute(
                    ins.on_conflict_do_update(
                        index_elements=["subject", "system"],
                        set_={
                            c: ins.excluded[c] for c in chunk[0] if c not in ("subject", "system")
                        },
                    ),
                    chunk,
                )
                log_rows = [
                    {
                        "at": at,
                        "action": "linked",
                        "method": r["method"],
                        "subject": r["subject"],
                        "system": r["system"],
                        "local_id": r["local_id"],
                        "probability": r["match_probability"],
                        "model_version": r["model_version"],
                        "agreeing": r["agreeing"],
                        "decided_by": r["decided_by"],
                        "event_id": r["event_id"],
                    }
                    for r in chunk
                ]
                head = log_and_audit(conn, self.secret, head, log_rows, at)

    def links_of(self, subject: str) -> list[LinkRow]:
        with self.engine.connect() as conn:
            return [
                _link_row(r._mapping)
                for r in conn.execute(
                    select(_LINK).where(_LINK.c.subject == subject).order_by(_LINK.c.system)
                )
            ]

    def unlink(self, subject: str, system: str, by: str, at: datetime) -> LinkRow | None:
        """Remove the person's link to `system` (logged and audited with who undid it); the
        link removed, or None when there was none."""
        with self.engine.begin() as conn:
            head = lock_head(conn)
            row = conn.execute(
                select(_LINK).where((_LINK.c.subject == subject) & (_LINK.c.system == system))
            ).first()
            if row is None:
                return None
            current = _link_row(row._mapping)
            conn.execute(
                delete(_LINK).where((_LINK.c.subject == subject) & (_LINK.c.system == system))
            )
            log_row = {
                "at": at,
                "action": "unlinked",
                "method": current.method,
                "subject": subject,
                "system": system,
                "local_id": current.local_id,
                "probability": current.probability,
                "model_version": current.model_version,
                "agreeing": json.dumps(list(current.agreeing)),
                "decided_by": by,
                "event_id": current.event_id,
            }
            log_and_audit(conn, self.secret, head, [log_row], at)
        return current

    def log(self, subject: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        stmt = select(_LOG).order_by(_LOG.c.seq.desc()).limit(limit)
        if subject is not None:
            stmt = stmt.where(_LOG.c.subject == subject)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def add_candidates(
        self,
        source: str,
        event_id: str,
        event_type: str,
        subject: str,
        pairs: Sequence[tuple[str, str, float, str, Sequence[FieldResult]]],
        at: datetime,
    ) -> None:
        """Candidate pairs (system, local id, probability, model version, fields) for review."""
        if not pairs:
            return
        rows = [
            {
                "source": source,
                "event_id": event_id,
                "event_type": event_type,
                "subject": subject,
                "system": system,
                "local_id": local_id,
                "probability": p,
                "model_version": version,
                "fields": _fields_json(fields),
                "status": "open",
                "created_at": at,
            }
            for system, local_id, p, version, fields in pairs
        ]
        with self.engine.begin() as conn:
            conn.execute(
                _insert(conn)(_CAND).on_conflict_do_nothing(
                    index_elements=["source", "event_id", "system", "local_id"]
                ),
                rows,
            )

    def candidates(self, status: str | None = "open", limit: int = 100) -> list[CandidatePair]:
        stmt = select(_CAND).order_by(_CAND.c.seq).limit(limit)
        if status:
            stmt = stmt.where(_CAND.c.status == status)
        with self.engine.connect() as conn:
            return [_candidate(r._mapping) for r in conn.execute(stmt)]

    def candidate(self, seq: int) -> CandidatePair | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_CAND).where(_CAND.c.seq == seq)).first()
        return _candidate(row._mapping) if row is not None else None

    def decide(self, seq: int, status: str, by: str, at: datetime) -> bool:
        """Record a person's decision on an open (or not-sure) pair; True when it changed."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(_CAND)
                .where((_CAND.c.seq == seq) & _CAND.c.status.in_(["open", "not_sure"]))
                .values(status=status, decided_by=by, decided_at=at)
            ).rowcount
            if changed and status in ("rejected", "not_sure"):
                head = lock_head(conn)
                row = conn.execute(select(_CAND).where(_CAND.c.seq == seq)).one()
                log_row = {
                    "at": at,
                    "action": status,
                    "method": "clerical",
                    "subject": row.subject,
                    "system": row.system,
                    "local_id": row.local_id,
                    "probability": row.probability,
                    "model_version": row.model_version,
                    "decided_by": by,
                    "event_id": row.event_id,
                }
                log_and_audit(conn, self.secret, head, [log_row], at)
        return bool(changed)

    def close_others(self, source: str, event_id: str, system: str, at: datetime) -> None:
        """Once a pair is accepted, the event's other open pairs for that system are moot."""
        with self.engine.begin() as conn:
            conn.execute(
                update(_CAND)
                .where(
                    and_(
                        _CAND.c.source == source,
                        _CAND.c.event_id == event_id,
                        _CAND.c.system == system,
                        _CAND.c.status.in_(["open", "not_sure"]),
                    )
                )
                .values(status="superseded", decided_at=at)
            )

    def open_for_event(self, source: str, event_id: str) -> list[CandidatePair]:
        with self.engine.connect() as conn:
            return [
                _candidate(r._mapping)
                for r in conn.execute(
                    select(_CAND).where(
                        (_CAND.c.source == source)
                        & (_CAND.c.event_id == event_id)
                        & _CAND.c.status.in_(["open", "not_sure"])
                    )
                )
            ]
