"""The questions IG asks of the audit store: transfer search, flows per agreement, withheld by
reason, failures, transfers per day, consent withdrawals."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, Table, and_, false, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from hub.audit.bounds import in_chain
from hub.audit.ledger import AUDIT
from hub.audit.store import AuditRow, audit_row
from hub.config.model import HubConfig
from hub.config.review import review_flags
from hub.db.engine import any_found
from hub.db.tables import (
    ConsentRecord,
    EventClaim,
    IdentityLink,
    IngestJournal,
    RejectedEvent,
    ReviewItem,
    SubjectStatus,
)
from hub.paging import Page, fetch_page
from hub.pseudonym import subject_key
from hub.subjects.store import SubjectStore
from hub.timeutil import uk_day_start, utc_bounds

CONSENT: Table = ConsentRecord.__table__  # type: ignore[attr-defined]
LINK: Table = IdentityLink.__table__  # type: ignore[attr-defined]
STATUS: Table = SubjectStatus.__table__  # type: ignore[attr-defined]
REVIEW: Table = ReviewItem.__table__  # type: ignore[attr-defined]
JOURNAL: Table = IngestJournal.__table__  # type: ignore[attr-defined]
CLAIM: Table = EventClaim.__table__  # type: ignore[attr-defined]
REJECTED: Table = RejectedEvent.__table__  # type: ignore[attr-defined]
OUTCOMES = ("delivered", "withheld", "failed")


class PersonRef(BaseModel):
    """A person, named by the hub id, by one system's local id, or by any system's local id."""

    model_config = ConfigDict(frozen=True)

    hub_id: str | None = None
    local_id: str | None = None
    system: str | None = Field(default=None, description="Only with local_id: whose id it is")

    @property
    def given(self) -> bool:
        return bool(self.hub_id or self.local_id)

    def label(self) -> str:
        if self.hub_id:
            return f"hub id {self.hub_id}"
        return f"{self.system or 'any system'} local id {self.local_id}"


class TransferQuery(BaseModel):
    model_config = ConfigDict(frozen=True)

    person: PersonRef = PersonRef()
    recipient: str | None = None
    source: str | None = None
    agreement_id: str | None = None
    event_type: str | None = None
    outcome: str | None = None
    date_from: date | None = None
    date_to: date | None = Field(default=None, description="Inclusive")
    after_seq: int = 0
    limit: int = Field(default=100, ge=1, le=10_000)


class TransferPage(BaseModel):
    rows: list[AuditRow]
    next_after: int | None = Field(description="Pass as after_seq for the next page; null: last")


class ResolvedPerson(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject_keys: tuple[str, ...]
    local_id: str | None = None
    system: str | None = None
    hub_ids: tuple[str, ...] = ()


def resolve_person(engine: Engine, secret: str, person: PersonRef) -> ResolvedPerson:
    """Hub id -> its subject key; a local id -> the subject keys of the people linked to it."""
    if person.hub_id:
        return ResolvedPerson(
            subject_keys=(subject_key(secret, person.hub_id),), hub_ids=(person.hub_id,)
        )
    subjects = SubjectStore(engine).subjects_for_local_id(person.local_id or "", person.system)
    return ResolvedPerson(
        subject_keys=tuple(subject_key(secret, s) for s in subjects),
        local_id=person.local_id,
        system=person.system,
        hub_ids=tuple(subjects),
    )


def person_known(engine: Engine, resolved: ResolvedPerson) -> bool:
    """Whether the hub has ever seen this person: a record linked to them, an event about them
    (journal, review queue, consent, death), or an audit row. False is "not known to the hub",
    which a subject access answer must say, unlike "known, nothing shared"."""
    if resolved.local_id and resolved.hub_ids:
        return True  # a system's record is linked to a hub person
    ids, keys = list(resolved.hub_ids), list(resolved.subject_keys)
    probes: list[Any] = [select(AUDIT.c.seq).where(person_condition(resolved))]
    if keys:
        probes.append(select(REVIEW.c.seq).where(REVIEW.c.subject_key.in_(keys)))
    if ids:
        probes += [
            select(LINK.c.id).where(LINK.c.subject.in_(ids)),
            select(CONSENT.c.seq).where(CONSENT.c.subject.in_(ids)),
            select(STATUS.c.event_id).where(STATUS.c.subject.in_(ids)),
            select(JOURNAL.c.seq).where(JOURNAL.c.key.in_([i.encode() for i in ids])),
        ]
    return any_found(engine, *probes)


def event_known(engine: Engine, event_id: str) -> bool:
    """Whether the hub has a record of any source's event `event_id`: accepted (the journal),
    routed (its claim), held for review, rejected, or audited. Event ids are per source, so
    each look-up by the id alone reads its whole table: for an answer that found nothing."""
    return any_found(
        engine,
        select(AUDIT.c.seq).where(AUDIT.c.event_id == event_id),
        select(CLAIM.c.id).where(CLAIM.c.event_id == event_id),
        select(JOURNAL.c.seq).where(JOURNAL.c.event_id == event_id),
        select(REVIEW.c.seq).where(REVIEW.c.event_id == event_id),
        select(REJECTED.c.seq).where(REJECTED.c.event_id == event_id),
    )


def person_condition(resolved: ResolvedPerson) -> ColumnElement[bool]:
    """Rows about the person: by subject key, or carrying the recipient's local id directly."""
    terms: list[ColumnElement[bool]] = []
    if resolved.subject_keys:
        terms.append(AUDIT.c.subject_key.in_(resolved.subject_keys))
    if resolved.local_id:
        direct = AUDIT.c.local_id == resolved.local_id
        if resolved.system:
            direct = and_(direct, AUDIT.c.recipient == resolved.system)
        terms.append(direct)
    return or_(*terms) if terms else false()


def _utc_day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def search(engine: Engine, q: TransferQuery, resolved: ResolvedPerson | None) -> TransferPage:
    stmt = select(AUDIT).where(AUDIT.c.seq > q.after_seq, in_chain())
    if resolved is not None:
        stmt = stmt.where(person_condition(resolved))
    for column, value in (
        (AUDIT.c.recipient, q.recipient),
        (AUDIT.c.source, q.source),
        (AUDIT.c.agreement_id, q.agreement_id),
        (AUDIT.c.event_type, q.event_type),
        (AUDIT.c.outcome, q.outcome),
    ):
        if value:
            stmt = stmt.where(column == value)
    if q.date_from:
        stmt = stmt.where(AUDIT.c.decided_at >= uk_day_start(q.date_from))
    if q.date_to and q.date_to < date.max:  # the last day there is: no end bound
        stmt = stmt.where(AUDIT.c.decided_at < uk_day_start(q.date_to + timedelta(days=1)))
    stmt = stmt.order_by(AUDIT.c.seq).limit(q.limit + 1)
    with engine.connect() as conn:
        rows = [audit_row(r._mapping) for r in conn.execute(stmt)]
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    return TransferPage(rows=rows, next_after=rows[-1].seq if more and rows else None)


def in_trail(engine: Engine, column: str, value: str) -> bool:
    """Whether any audit row has `value` in `column` (a name the configuration has dropped)."""
    return any_found(engine, select(AUDIT.c.seq).where(AUDIT.c[column] == value))


def rows_about(engine: Engine, resolved: ResolvedPerson) -> list[AuditRow]:
    stmt = select(AUDIT).where(person_condition(resolved), in_chain()).order_by(AUDIT.c.seq)
    with engine.connect() as conn:
        return [audit_row(r._mapping) for r in conn.execute(stmt)]


class AgreementFlow(BaseModel):
    agreement_id: str
    title: str
    version: str
    purpose: str
    lawful_basis: str
    status: str
    review_by: date
    valid_until: date | None
    flags: list[str] = Field(description="Why IG should look at it today (empty: nothing)")
    delivered: int = 0
    withheld: int = 0
    failed: int = 0


def agreements_overview(engine: Engine, config: HubConfig, today: date) -> list[AgreementFlow]:
    stmt = (
        select(AUDIT.c.agreement_id, AUDIT.c.outcome, func.count())
        .where(in_chain())
        .group_by(AUDIT.c.agreement_id, AUDIT.c.outcome)
    )
    with engine.connect() as conn:
        counts = {(a, o): int(n) for a, o, n in conn.execute(stmt)}
    flows = []
    for a in config.agreements:
        flows.append(
            AgreementFlow(
                agreement_id=a.id,
                title=a.title,
                version=a.version,
                purpose=a.purpose,
                lawful_basis=a.lawful_basis,
                status=a.status.value,
                review_by=a.review_by,
                valid_until=a.valid_until,
                flags=[f.value for f in review_flags(a, today)],
                delivered=counts.get((a.id, "delivered"), 0),
                withheld=counts.get((a.id, "withheld"), 0),
                failed=counts.get((a.id, "failed"), 0),
            )
        )
    return flows


class ReasonCount(BaseModel):
    reason: str
    count: int


def withheld_by_reason(
    engine: Engine, date_from: date | None = None, date_to: date | None = None
) -> list[ReasonCount]:
    stmt = select(AUDIT.c.reason_codes, func.count()).where(
        AUDIT.c.outcome == "withheld", in_chain()
    )
    if date_from:
        stmt = stmt.where(AUDIT.c.decided_at >= uk_day_start(date_from))
    if date_to and date_to < date.max:
        stmt = stmt.where(AUDIT.c.decided_at < uk_day_start(date_to + timedelta(days=1)))
    stmt = stmt.group_by(AUDIT.c.reason_codes)
    counts: Counter[str] = Counter()
    with engine.connect() as conn:
        for codes, n in conn.execute(stmt):
            for code in (codes or "unspecified").split(","):
                counts[code] += int(n)
    return [ReasonCount(reason=r, count=n) for r, n in counts.most_common()]


def failures(engine: Engine, limit: int = 100) -> list[AuditRow]:
    return list(failures_page(engine, 1, limit).rows)


def failures_page(engine: Engine, number: int = 1, size: int = 100) -> Page[AuditRow]:
    """Failed deliveries, newest first, a page at a time (with how many failed in all)."""
    stmt = select(AUDIT).where(AUDIT.c.outcome == "failed", in_chain()).order_by(AUDIT.c.seq.desc())
    with engine.connect() as conn:
        rows, total = fetch_page(conn, stmt, number, size)
    return Page([audit_row(r._mapping) for r in rows], total, number, size)


class DayCount(BaseModel):
    day: date
    recipient: str
    count: int


def _day(engine: Engine, column: Any) -> Any:
    if engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)


def transfers_per_day(engine: Engine, today: date, days: int = 14) -> list[DayCount]:
    """Delivered transfers per day (UTC) and recipient over the last `days` days."""
    day = _day(engine, AUDIT.c.decided_at)
    stmt = (
        select(day, AUDIT.c.recipient, func.count())
        .where(AUDIT.c.outcome == "delivered", in_chain())
        .where(AUDIT.c.decided_at >= _utc_day_start(today - timedelta(days=days - 1)))
        .group_by(day, AUDIT.c.recipient)
        .order_by(day, AUDIT.c.recipient)
    )
    with engine.connect() as conn:
        return [
            DayCount(day=date.fromisoformat(str(d)), recipient=r, count=int(n))
            for d, r, n in conn.execute(stmt)
        ]


class ConsentWithdrawal(BaseModel):
    subject_key: str = Field(description="The person's pseudonymous key (as in the audit)")
    action: str
    purpose: str
    recipient: str | None
    effective_at: datetime


def consent_withdrawals(engine: Engine, secret: str, limit: int = 100) -> list[ConsentWithdrawal]:
    """The latest withdrawals and objections (`limit` of them), newest first."""
    return list(consent_withdrawals_page(engine, secret, None, None, 1, limit).rows)


def consent_withdrawals_page(
    engine: Engine,
    secret: str,
    date_from: date | None,
    date_to: date | None,
    number: int = 1,
    size: int = 500,
) -> Page[ConsentWithdrawal]:
    """Withdrawals and objections effective within UK days from..to (inclusive, either open),
    newest first, a page at a time; the dates are in the query, so no day is cut off by a cap."""
    start, end = utc_bounds(date_from, date_to)
    stmt = select(CONSENT).where(CONSENT.c.action.in_(("withdrawn", "objection")))
    if start is not None:
        stmt = stmt.where(CONSENT.c.effective_at >= start)
    if end is not None:
        stmt = stmt.where(CONSENT.c.effective_at < end)
    stmt = stmt.order_by(CONSENT.c.effective_at.desc(), CONSENT.c.seq.desc())
    with engine.connect() as conn:
        rows, total = fetch_page(conn, stmt, number, size)
    found = [
        ConsentWithdrawal(
            subject_key=subject_key(secret, m["subject"]),
            action=m["action"],
            purpose=m["purpose"],
            recipient=m["recipient"],
            effective_at=m["effective_at"],
        )
        for m in (r._mapping for r in rows)
    ]
    return Page(found, total, number, size)
