"""The durable home of per-person routing state: consent facts, identity links, deceased flags.

The router writes control events here before it routes anything after them, and reads the
state of the people in each batch from here, so any number of workers agree and a lost broker
or changelog never loses a withdrawal of consent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType

from sqlalchemy import Connection, Engine, delete, func, select

from hub.audit.chain import as_utc
from hub.audit.ledger import lock_head
from hub.db.engine import insert_ignoring_duplicates, upsert_newer
from hub.db.tables import ConsentRecord, IdentityLink, SubjectStatus
from hub.errors import HubError
from hub.identity.store import log_and_audit
from hub.policy.state import ConsentAction, ConsentFact, SubjectState
from hub.subjects.changes import ConsentChange, DeathChange, LinkChange

_CONSENT = ConsentRecord.__table__  # type: ignore[attr-defined]
_LINK = IdentityLink.__table__  # type: ignore[attr-defined]
_STATUS = SubjectStatus.__table__  # type: ignore[attr-defined]
_CHUNK = 500
LINK_METHOD = "person.linked"  # a link a customer index (or a system of its own records) asserted


def _current_links(
    conn: Connection, subjects: set[str]
) -> dict[tuple[str, str], tuple[str, datetime]]:
    """(subject, system) -> (event id, linked at) of the links in place for these people."""
    found: dict[tuple[str, str], tuple[str, datetime]] = {}
    ordered = sorted(subjects)
    for i in range(0, len(ordered), _CHUNK):
        for r in conn.execute(
            select(_LINK.c.subject, _LINK.c.system, _LINK.c.event_id, _LINK.c.linked_at).where(
                _LINK.c.subject.in_(ordered[i : i + _CHUNK])
            )
        ):
            found[(r.subject, r.system)] = (r.event_id, r.linked_at)
    return found


@dataclass(frozen=True)
class SubjectChanges:
    consent: Sequence[ConsentChange] = ()
    links: Sequence[LinkChange] = ()
    deaths: Sequence[DeathChange] = ()

    def __bool__(self) -> bool:
        return bool(self.consent or self.links or self.deaths)


@dataclass
class _Building:
    consent: list[ConsentFact] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    deceased_on: date | None = None


class SubjectStore:
    """`secret` (the pseudonym key, HUB_PSEUDONYM_KEY) is needed only to record links: each link
    a customer index asserts is written to the identity link log and the hash-chained audit
    trail in the same transaction, as matching's links are (hub.identity.store)."""

    def __init__(self, engine: Engine, secret: str | None = None) -> None:
        self.engine = engine
        self.secret = secret

    def record(self, changes: SubjectChanges, recorded_at: datetime) -> None:
        """Write every change in one transaction; redelivered changes are no-ops."""
        if not changes:
            return
        latest: dict[tuple[str, str], LinkChange] = {}
        for link in changes.links:  # one row per (subject, system) per statement
            key = (link.subject, link.system)
            if key not in latest or latest[key].linked_at <= link.linked_at:
                latest[key] = link
        if latest and self.secret is None:
            raise HubError("recording person.linked needs the pseudonym key (SubjectStore secret)")
        with self.engine.begin() as conn:
            # first: the chain's lock orders this transaction with every other audit writer
            head = lock_head(conn) if latest else None
            insert_ignoring_duplicates(
                conn,
                _CONSENT,
                [
                    {
                        "event_id": c.event_id,
                        "source": c.source,
                        "subject": c.subject,
                        "action": c.action.value,
                        "purpose": c.purpose,
                        "recipient": c.recipient,
                        "effective_at": c.effective_at,
                        "recorded_at": recorded_at,
                    }
                    for c in changes.consent
                ],
                ("source", "event_id"),
            )
            if head is not None and self.secret is not None:
                self._record_links(conn, self.secret, head, latest, recorded_at)
            first: dict[str, DeathChange] = {}
            for death in changes.deaths:
                first.setdefault(death.subject, death)
            insert_ignoring_duplicates(
                conn,
                _STATUS,
                [
                    {
                        "subject": d.subject,
                        "deceased_on": d.deceased_on,
                        "event_id": d.event_id,
                        "recorded_at": recorded_at,
                    }
                    for d in first.values()
                ],
                "subject",
            )

    @staticmethod
    def _record_links(
        conn: Connection,
        secret: str,
        head: tuple[int, str],
        latest: dict[tuple[str, str], LinkChange],
        recorded_at: datetime,
    ) -> None:
        """Upsert the links (a newer one replaces an older, with its own provenance); log and
        audit those that take effect: not a redelivery, not older than the link in place."""
        current = _current_links(conn, {subject for subject, _ in latest})
        taking = [
            lk
            for key, lk in latest.items()
            if (c := current.get(key)) is None
            or (c[0] != lk.event_id and as_utc(c[1]) <= as_utc(lk.linked_at))
        ]
        upsert_newer(
            conn,
            _LINK,
            [
                {
                    "subject": lk.subject,
                    "system": lk.system,
                    "local_id": lk.local_id,
                    "event_id": lk.event_id,
                    "linked_at": lk.linked_at,
                    "method": LINK_METHOD,
                    "match_probability": None,
                    "model_version": None,
                    "agreeing": "[]",
                    "decided_by": lk.source or None,
                }
                for lk in latest.values()
            ],
            ("subject", "system"),
            "linked_at",
        )
        log_and_audit(
            conn,
            secret,
            head,
            [
                {
                    "at": recorded_at,
                    "action": "linked",
                    "method": LINK_METHOD,
                    "subject": lk.subject,
                    "system": lk.system,
                    "local_id": lk.local_id,
                    "probability": None,
                    "model_version": None,
                    "agreeing": "[]",
                    "decided_by": lk.source or None,
                    "event_id": lk.event_id,
                }
                for lk in taking
            ],
            recorded_at,
        )

    def load(self, subjects: Iterable[str]) -> dict[str, SubjectState]:
        """The state of each named person (people the hub knows nothing about are absent)."""
        wanted = sorted(set(subjects))
        building: dict[str, _Building] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), _CHUNK):
                chunk = wanted[i : i + _CHUNK]
                # fetched whole (`all`): iterating a result fetches row by row, and that was
                # half of a load's time
                for subject, action, purpose, recipient, effective_at, seq in conn.execute(
                    select(
                        _CONSENT.c.subject,
                        _CONSENT.c.action,
                        _CONSENT.c.purpose,
                        _CONSENT.c.recipient,
                        _CONSENT.c.effective_at,
                        _CONSENT.c.seq,
                    )
                    .where(_CONSENT.c.subject.in_(chunk))
                    .order_by(_CONSENT.c.seq)
                ).all():
                    building.setdefault(subject, _Building()).consent.append(
                        ConsentFact(
                            action=ConsentAction(action),
                            purpose=purpose,
                            recipient=recipient,
                            effective_at=effective_at,
                            seq=seq,
                        )
                    )
                # only the columns routing reads (a link row also holds its provenance)
                for subject, system, local_id in conn.execute(
                    select(_LINK.c.subject, _LINK.c.system, _LINK.c.local_id).where(
                        _LINK.c.subject.in_(chunk)
                    )
                ).all():
                    building.setdefault(subject, _Building()).links[system] = local_id
                for subject, deceased_on in conn.execute(
                    select(_STATUS.c.subject, _STATUS.c.deceased_on).where(
                        _STATUS.c.subject.in_(chunk)
                    )
                ).all():
                    building.setdefault(subject, _Building()).deceased_on = deceased_on
        return {
            subject: SubjectState(
                consent=tuple(b.consent),
                links=MappingProxyType(dict(b.links)),
                deceased_on=b.deceased_on,
            )
            for subject, b in building.items()
        }

    def purge_deceased(self, before: datetime, dry_run: bool = False) -> int:
        """Retention: delete (or with dry_run, count) deceased flags recorded before `before`.

        Consent records and identity links are not purged by age: a purged withdrawal or
        objection would let flows resume, and a purged link would stop (or misdirect) the
        deliveries the person's services are entitled to; both are undone by events instead."""
        old = _STATUS.c.recorded_at < before
        with self.engine.begin() as conn:
            if dry_run:
                return int(conn.execute(select(func.count()).where(old)).scalar_one())
            return int(conn.execute(delete(_STATUS).where(old)).rowcount or 0)

    def subjects_for_local_id(self, local_id: str, system: str | None = None) -> list[str]:
        """Hub persons a record `local_id` is linked to (of `system`, or of any system)."""
        stmt = select(_LINK.c.subject).where(_LINK.c.local_id == local_id)
        if system is not None:
            stmt = stmt.where(_LINK.c.system == system)
        with self.engine.connect() as conn:
            return sorted({r.subject for r in conn.execute(stmt)})
