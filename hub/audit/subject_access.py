"""Reads of the audit about one person: the subject access report and person searches.

Every such read is itself recorded (who, when, why, which person key, through what), as the
Dutch processing-log standard (Logboek dataverwerkingen) and X-Road deployments ask. The
purpose is required: a read without one is refused before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, Row, Table, insert, select

from hub.audit.chain import as_utc
from hub.audit.queries import (
    PersonRef,
    ResolvedPerson,
    TransferPage,
    TransferQuery,
    in_trail,
    person_known,
    resolve_person,
    rows_about,
    search,
)
from hub.audit.search_names import (
    SearchNames,
    name_problem,
    names_anything,
    not_configured,
    person_problem,
)
from hub.audit.store import AuditRow
from hub.db.tables import AuditAccessLog
from hub.errors import Problem, ProblemsError
from hub.paging import Page, fetch_page
from hub.pseudonym import NO_PERSON
from hub.unknown_names import SUMMARY, UnknownName

ACCESS_LOG: Table = AuditAccessLog.__table__  # type: ignore[attr-defined]
MIN_PURPOSE = 5


class PurposeRequired(ProblemsError):
    code = "purpose_required"


def check_purpose(purpose: str | None) -> str:
    text = (purpose or "").strip()
    if len(text) < MIN_PURPOSE:
        raise PurposeRequired(
            "a read about a person needs a purpose",
            [
                Problem(
                    "purpose",
                    "required",
                    "say why you are looking (at least 5 characters), e.g. "
                    "'SAR 2026-0142 from the resident'; it is recorded in the access log",
                )
            ],
        )
    return text


class AccessLogEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    accessed_at: datetime
    actor: str
    purpose: str
    subject_key: str
    what: str
    via: str


class ReportLine(BaseModel):
    """One transfer (or withheld/failed one) in a subject access report: names, never values."""

    model_config = ConfigDict(frozen=True)

    seq: int
    decided_at: datetime
    event_id: str
    event_type: str
    source: str
    recipient: str
    outcome: str
    fields: tuple[str, ...]
    agreement_id: str | None
    agreement_version: str | None
    lawful_basis: str | None
    purpose: str | None
    reasons: tuple[str, ...]
    mode: str

    @classmethod
    def of(cls, r: AuditRow) -> ReportLine:
        return cls(
            seq=r.seq,
            decided_at=r.decided_at,
            event_id=r.event_id,
            event_type=r.event_type,
            source=r.source,
            recipient=r.recipient,
            outcome=r.outcome,
            fields=r.fields,
            agreement_id=r.agreement_id,
            agreement_version=r.agreement_version,
            lawful_basis=r.lawful_basis,
            purpose=r.purpose,
            reasons=r.reasons,
            mode=r.mode,
        )


class AgreementUsed(BaseModel):
    model_config = ConfigDict(frozen=True)

    agreement_id: str
    agreement_version: str | None
    lawful_basis: str | None
    recipients: tuple[str, ...]


NOT_KNOWN = (
    "This person is not known to the hub: no event, record link or transfer names them. That "
    "is not the same as 'nothing was shared': check the id (and the system it belongs to)."
)
KNOWN_NOTHING_SHARED = "This person is known to the hub; nothing about them was shared."


class SubjectAccessReport(BaseModel):
    person: str = Field(description="How the person was named in the request")
    known_to_hub: bool = Field(
        description="False: the hub has never seen this person (no event, record link or audit "
        "row), which is not the same as known with nothing shared"
    )
    subject_keys: tuple[str, ...]
    generated_at: datetime
    requested_by: str
    purpose: str
    delivered: list[ReportLine]
    withheld: list[ReportLine]
    failed: list[ReportLine]
    recipients: list[str] = Field(description="Services that received data about the person")
    agreements: list[AgreementUsed]

    @property
    def summary(self) -> str | None:
        """The sentence a reader must see first, when there is no transfer to show."""
        if not self.known_to_hub:
            return NOT_KNOWN
        if not (self.delivered or self.withheld or self.failed):
            return KNOWN_NOTHING_SHARED
        return None


def build_report(
    person: str,
    resolved: ResolvedPerson,
    rows: list[AuditRow],
    by: str,
    purpose: str,
    at: datetime,
    known: bool = True,
) -> SubjectAccessReport:
    lines = [ReportLine.of(r) for r in rows]
    delivered = [line for line in lines if line.outcome == "delivered"]
    used: dict[tuple[str, str | None, str | None], set[str]] = {}
    for line in delivered:
        if line.agreement_id:
            key = (line.agreement_id, line.agreement_version, line.lawful_basis)
            used.setdefault(key, set()).add(line.recipient)
    return SubjectAccessReport(
        person=person,
        known_to_hub=known or bool(rows),
        subject_keys=resolved.subject_keys,
        generated_at=at,
        requested_by=by,
        purpose=purpose,
        delivered=delivered,
        withheld=[line for line in lines if line.outcome == "withheld"],
        failed=[line for line in lines if line.outcome == "failed"],
        recipients=sorted({line.recipient for line in delivered}),
        agreements=[
            AgreementUsed(
                agreement_id=a, agreement_version=v, lawful_basis=b, recipients=tuple(sorted(r))
            )
            for (a, v, b), r in sorted(used.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        ],
    )


class SubjectAccess:
    """The audited way to read about a person."""

    def __init__(self, engine: Engine, pseudonym_secret: str) -> None:
        self.engine = engine
        self.secret = pseudonym_secret

    def _log(
        self, resolved: ResolvedPerson, by: str, purpose: str, what: str, via: str, at: datetime
    ) -> None:
        keys = resolved.subject_keys or (NO_PERSON,)
        with self.engine.begin() as conn:
            conn.execute(
                insert(ACCESS_LOG),
                [
                    {
                        "accessed_at": as_utc(at),
                        "actor": by,
                        "purpose": purpose,
                        "subject_key": k[:64],
                        "what": what,
                        "via": via,
                    }
                    for k in keys
                ],
            )

    def report(
        self, person: PersonRef, by: str, purpose: str | None, via: str, at: datetime
    ) -> SubjectAccessReport:
        why = check_purpose(purpose)
        resolved = resolve_person(self.engine, self.secret, person)
        self._log(resolved, by, why, "subject_access_report", via, at)
        rows = rows_about(self.engine, resolved)
        known = bool(rows) or person_known(self.engine, resolved)
        return build_report(person.label(), resolved, rows, by, why, at, known)

    def search(
        self,
        q: TransferQuery,
        by: str,
        purpose: str | None,
        via: str,
        at: datetime,
        *,
        names: Callable[[], SearchNames],
    ) -> TransferPage:
        """Transfer search; when it names a person, it needs a purpose and is logged. A search
        that finds nothing is refused if it names what the hub has never known (`names`: the
        configuration in force, asked for only then)."""
        resolved = None
        if q.person.given:
            why = check_purpose(purpose)
            resolved = resolve_person(self.engine, self.secret, q.person)
            self._log(resolved, by, why, "transfer_search", via, at)
        page = search(self.engine, q, resolved)
        if not page.rows:
            self._refuse_unknown(q, resolved, names)
        return page

    def _refuse_unknown(
        self, q: TransferQuery, resolved: ResolvedPerson | None, names: Callable[[], SearchNames]
    ) -> None:
        problems = []
        if names_anything(q):
            known = names()
            problems = [
                name_problem(n, known)
                for n in not_configured(q, known)
                if not in_trail(self.engine, n.filter.column, n.value)
            ]
        if resolved is not None and not person_known(self.engine, resolved):
            problems.append(person_problem(q.person))
        if problems:
            raise UnknownName(SUMMARY, problems)

    def access_log(self, subject_key: str | None = None, limit: int = 100) -> list[AccessLogEntry]:
        return list(self.access_log_page(subject_key, 1, limit).rows)

    def access_log_page(
        self, subject_key: str | None = None, number: int = 1, size: int = 100
    ) -> Page[AccessLogEntry]:
        """Reads about people, newest first, a page at a time (with how many in all)."""
        stmt = select(ACCESS_LOG).order_by(ACCESS_LOG.c.id.desc())
        if subject_key:
            stmt = stmt.where(ACCESS_LOG.c.subject_key == subject_key)
        with self.engine.connect() as conn:
            rows, total = fetch_page(conn, stmt, number, size)
        return Page(access_log_entries(rows), total, number, size)


def access_log_entries(rows: Iterable[Row[Any]]) -> list[AccessLogEntry]:
    """Access log rows as entries (times in UTC)."""
    return [
        AccessLogEntry(
            accessed_at=as_utc(m["accessed_at"]),
            actor=m["actor"],
            purpose=m["purpose"],
            subject_key=m["subject_key"],
            what=m["what"],
            via=m["via"],
        )
        for m in (r._mapping for r in rows)
    ]
