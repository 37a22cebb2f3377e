"""IG's questions on real SQLite and PostgreSQL: subject access, transfer search, reports,
access log, API keys and the metrics snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from hub.access.keys import KeyProblem, KeyStore, hash_key
from hub.api.metrics import GaugeCache, metrics_text, read_gauges
from hub.audit.event_trace import why_no_transfer
from hub.audit.queries import (
    PersonRef,
    TransferQuery,
    agreements_overview,
    consent_withdrawals,
    event_known,
    transfers_per_day,
    withheld_by_reason,
)
from hub.audit.search_names import SearchNames
from hub.audit.store import AuditStore
from hub.audit.subject_access import PurposeRequired, SubjectAccess
from hub.config.model import Role
from hub.db.tables import ConsentRecord, EventClaim, IdentityLink
from hub.events.publisher import Accepted
from hub.journal.store import JournalStore
from hub.pseudonym import subject_key
from hub.rejected.store import RejectedStore, Rejection
from hub.review.store import Review, ReviewStore
from hub.routing.messages import AuditEntry, AuditReason, Outcome, delivery_id
from hub.unknown_names import UnknownName
from runtime.wiring import wire
from tests.conftest import SAMPLE_CONFIG, sample_search_names

SECRET = "pseudonym-secret"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ALICE, BOB = "P-ALICE", "P-BOB"
DELIVERED_TO = ("waste", "libraries", "parking", "electoral")
WITHHELD_FROM = ("adult-social-care",)
NAMES = sample_search_names


def entry(
    event: str,
    person: str,
    recipient: str,
    outcome: Outcome,
    at: datetime = NOW,
    agreement: str = "DSA-ADDR-001",
) -> AuditEntry:
    did = delivery_id(event, recipient, source="council-tax")
    withheld = outcome is Outcome.WITHHELD
    return AuditEntry(
        entry_id=AuditEntry.make_id(did, outcome),
        delivery_id=did,
        event_id=event,
        event_type="address.changed",
        source="council-tax",
        recipient=recipient,
        subject_key=subject_key(SECRET, person),
        outcome=outcome,
        reasons=(AuditReason(code="no_consent", message="consent withdrawn"),) if withheld else (),
        agreement_id=None if withheld else agreement,
        agreement_version=None if withheld else "abc123",
        lawful_basis=None if withheld else "Art. 6(1)(e)",
        fields=() if withheld else ("new_address.postcode",),
        event_time=at,
        decided_at=at,
        local_id=f"{recipient}-{person}",
    )


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """The store with Alice's and Bob's transfers, links and consent on record."""
    eng = migrated_engine
    store = AuditStore(eng)
    rows = [entry("e-alice-1", ALICE, r, Outcome.DELIVERED) for r in DELIVERED_TO]
    rows += [entry("e-alice-1", ALICE, r, Outcome.WITHHELD) for r in WITHHELD_FROM]
    rows += [
        entry("e-bob-1", BOB, r, Outcome.DELIVERED, NOW - timedelta(days=3))
        for r in ("waste", "parking")
    ]
    rows += [entry("e-bob-2", BOB, "libraries", Outcome.WITHHELD, NOW - timedelta(days=1))]
    store.write(rows, NOW)
    with eng.begin() as conn:
        conn.execute(
            insert(IdentityLink.__table__),  # type: ignore[attr-defined]
            [
                {"subject": ALICE, "system": "council-tax", "local_id": "CT-555",
                 "event_id": "l1", "linked_at": NOW},
                {"subject": BOB, "system": "waste", "local_id": "W-1", "event_id": "l2",
                 "linked_at": NOW},
            ],
        )  # fmt: skip
        conn.execute(
            insert(ConsentRecord.__table__),  # type: ignore[attr-defined]
            [
                {"event_id": "c1", "subject": ALICE, "action": "withdrawn", "purpose": "care",
                 "recipient": "adult-social-care", "effective_at": NOW, "recorded_at": NOW},
                {"event_id": "c2", "subject": BOB, "action": "granted", "purpose": "care",
                 "recipient": None, "effective_at": NOW, "recorded_at": NOW},
            ],
        )  # fmt: skip
    return eng


def test_subject_access_report_lists_exactly_the_persons_transfers(engine: Engine) -> None:
    access = SubjectAccess(engine, SECRET)
    report = access.report(PersonRef(hub_id=ALICE), "ig-alice", "SAR 2026-0142", "cli", NOW)
    assert sorted(line.recipient for line in report.delivered) == sorted(DELIVERED_TO)
    assert report.recipients == sorted(DELIVERED_TO)
    assert [line.recipient for line in report.withheld] == list(WITHHELD_FROM)
    assert report.withheld[0].reasons == ("consent withdrawn",)
    assert report.failed == []
    assert [(a.agreement_id, a.lawful_basis) for a in report.agreements] == [
        ("DSA-ADDR-001", "Art. 6(1)(e)")
    ]
    assert all(line.fields == ("new_address.postcode",) for line in report.delivered)
    # the same person found by another system's local id
    by_local = access.report(PersonRef(local_id="CT-555"), "ig-alice", "SAR 2026-0142", "api", NOW)
    assert by_local.delivered == report.delivered and by_local.withheld == report.withheld
    log = access.access_log(subject_key(SECRET, ALICE))
    assert [(e.actor, e.purpose, e.via, e.what) for e in log] == [
        ("ig-alice", "SAR 2026-0142", "api", "subject_access_report"),
        ("ig-alice", "SAR 2026-0142", "cli", "subject_access_report"),
    ]


def test_a_read_about_a_person_without_a_purpose_is_refused_and_not_logged(
    engine: Engine,
) -> None:
    access = SubjectAccess(engine, SECRET)
    for purpose in (None, "", "   "):
        with pytest.raises(PurposeRequired):
            access.report(PersonRef(hub_id=ALICE), "ig-alice", purpose, "cli", NOW)
        with pytest.raises(PurposeRequired):
            access.search(
                TransferQuery(person=PersonRef(hub_id=ALICE)), "x", purpose, "cli", NOW, names=NAMES
            )
    assert access.access_log() == []
    # a search that names no person needs no purpose
    assert len(access.search(TransferQuery(), "ig", None, "cli", NOW, names=NAMES).rows) == 8


def test_transfer_search_filters_and_pages(engine: Engine) -> None:
    access = SubjectAccess(engine, SECRET)

    def seqs(**kw: object) -> list[int]:
        q = TransferQuery(**kw)  # type: ignore[arg-type]
        return [r.seq for r in access.search(q, "ig", "audit check", "api", NOW, names=NAMES).rows]

    assert seqs(outcome="withheld") == [5, 8]
    assert seqs(recipient="waste") == [1, 6]
    assert seqs(person=PersonRef(local_id="W-1", system="waste")) == [6, 7, 8]
    assert seqs(person=PersonRef(local_id="parking-P-BOB")) == [7]  # the recipient's own id
    assert seqs(date_from=(NOW - timedelta(days=2)).date(), date_to=NOW.date()) == [
        1,
        2,
        3,
        4,
        5,
        8,
    ]
    assert seqs(date_to=(NOW - timedelta(days=3)).date()) == [6, 7]
    assert seqs(agreement_id="DSA-ADDR-001", source="council-tax", event_type="address.changed") == [1, 2, 3, 4, 6, 7]  # fmt: skip
    first = access.search(TransferQuery(limit=3), "ig", None, "api", NOW, names=NAMES)
    assert [r.seq for r in first.rows] == [1, 2, 3] and first.next_after == 3
    last = access.search(TransferQuery(limit=5, after_seq=3), "ig", None, "api", NOW, names=NAMES)
    assert [r.seq for r in last.rows] == [4, 5, 6, 7, 8] and last.next_after is None


def test_a_search_that_finds_nothing_names_what_the_hub_never_knew(engine: Engine) -> None:
    """A typo, an unknown person: refused, each named, never an empty page IG would read as
    "nothing was shared"; what the hub knows but found nothing for is a right empty page."""
    access = SubjectAccess(engine, SECRET)
    purpose = "audit check"

    def search(names: Callable[[], SearchNames] = NAMES, **kw: object) -> list[int]:
        page = access.search(TransferQuery(**kw), "ig", purpose, "api", NOW, names=names)  # type: ignore[arg-type]
        return [r.seq for r in page.rows]

    with pytest.raises(UnknownName) as refused:
        search(recipient="wastee", source="council-tx", agreement_id="DSA-999", event_type="moved")
    assert [(p.location, p.rule) for p in refused.value.problems] == [
        ("recipient", "unknown"),
        ("source", "unknown"),
        ("agreement", "unknown"),
        ("event_type", "unknown"),
    ]
    said = [p.message for p in refused.value.problems]
    assert said[0].startswith("'wastee' is not a receiving system in the configuration, and no ")
    assert "use one of adult-social-care, electoral, libraries, parking, waste" in said[0]
    with pytest.raises(UnknownName, match="never seen person 'P-NOBODY'"):
        search(person=PersonRef(hub_id="P-NOBODY"))
    with pytest.raises(UnknownName, match="no person is linked to waste's record 'W-9'"):
        search(person=PersonRef(local_id="W-9", system="waste"))
    # the refused reads about a person are in the access log all the same
    assert [e.what for e in access.access_log()] == ["transfer_search", "transfer_search"]

    # known and nothing found: an empty page (a configured recipient, a known person)
    assert search(recipient="electoral", date_to=(NOW - timedelta(days=2)).date()) == []
    assert search(person=PersonRef(hub_id=BOB), recipient="electoral") == []
    # a system retired from the configuration still has its history in the trail
    retired = SearchNames(frozenset({"waste"}), frozenset(), frozenset(), frozenset())
    assert search(lambda: retired, recipient="parking", outcome="withheld") == []
    assert search(lambda: retired, source="council-tax", outcome="failed") == []
    assert search(lambda: retired, agreement_id="DSA-ADDR-001", outcome="failed") == []
    with pytest.raises(UnknownName):
        search(lambda: retired, recipient="housing")

    # the configuration is read only for a search that found nothing and names something
    def unread() -> SearchNames:
        raise AssertionError("the configuration was read")

    assert search(unread, recipient="waste") == [1, 6]
    assert search(unread, date_to=date(2020, 1, 1)) == []


def claim(engine: Engine, source: str, event_id: str, event_type: str) -> None:
    """The router's claim of a (source, event id): it saw and routed the event."""
    with engine.begin() as conn:
        conn.execute(
            insert(EventClaim.__table__),  # type: ignore[attr-defined]
            [{"source": source, "event_id": event_id, "event_type": event_type,
              "content_sha256": "0" * 64, "claimed_at": NOW}],
        )  # fmt: skip


def test_an_event_is_known_by_any_trace_the_hub_keeps_of_it(engine: Engine) -> None:
    """Audited, routed (its claim), or rejected: known; an id no source used: not."""
    assert event_known(engine, "e-alice-1")  # audited
    assert not event_known(engine, "e-nobody")
    claim(engine, "registrar", "e-claimed", "death.notified")
    RejectedStore(engine).add(
        [
            Rejection(
                rejected_at=NOW, source="council-tax", event_id="e-rejected",
                event_type="address.changed", original_topic="events.address.changed",
                original_partition=0, original_offset=7, key=None, value=b"{}", headers=[],
                reason="bad record", rules=("postcode_format",),
            )
        ]
    )  # fmt: skip
    assert event_known(engine, "e-claimed") and event_known(engine, "e-rejected")
    assert not event_known(engine, "e-rejecte")


def test_an_event_without_transfers_is_told_why_per_source(engine: Engine) -> None:
    """`hub audit list --event-id`'s reason for no rows: what each store holds of each
    source's event with that id."""
    RejectedStore(engine).add(
        [
            Rejection(
                rejected_at=NOW, source="registrar", event_id=eid, event_type="death.notified",
                original_topic="sources.registrar", original_partition=0, original_offset=n,
                key=None, value=b"{}", headers=[], reason="bad record", rules=("date_format",),
            )
            for n, eid in enumerate(("e-alice-1", "e-twice"))
        ]
    )  # fmt: skip
    ReviewStore(engine).add(
        [
            Review(
                event_id="e-held", event_type="address.changed", source="council-tax",
                subject_key="0" * 32, reason="unresolved", topic="events.address.changed",
                key=None, value=b"{}", headers=[], created_at=NOW,
            )
        ]
    )  # fmt: skip
    journal = JournalStore(engine)
    journal.record(
        [
            Accepted("e-twice", "address.changed", "council-tax", "events.address.changed",
                     b"k", b"{}", ())
        ],
        NOW,
    )  # fmt: skip
    claim(engine, "housing", "e-twice", "address.changed")

    # the id has rows (council-tax's event): they are the answer, whoever else used the id
    assert why_no_transfer(engine, "e-alice-1") == []
    held = why_no_transfer(engine, "e-held")
    assert len(held) == 1 and "held for review 2026-11-24 10:00:00 UTC: unresolved." in held[0]
    assert "Not sent yet: `hub deliveries held` lists it" in held[0]
    # three sources used the id: each is told apart, by what tells most of its event
    twice = why_no_transfer(engine, "e-twice")
    assert [line.split("'s event")[0] for line in twice] == ["council-tax", "housing", "registrar"]
    assert "accepted 2026-11-24 10:00:00 UTC, not routed yet" in twice[0]
    assert "routed 2026-11-24 10:00:00 UTC, and no transfer of it is recorded" in twice[1]
    assert "rejected 2026-11-24 10:00:00 UTC: bad record. Nothing was sent." in twice[2]
    journal.mark_routed({("council-tax", "e-twice"): 0}, NOW + timedelta(seconds=1))
    assert "routed 2026-11-24 10:00:01 UTC" in why_no_transfer(engine, "e-twice")[0]
    assert why_no_transfer(engine, "e-nobody") == []  # unknown: `event_known` refuses it first


def test_reports_for_ig(engine: Engine, tmp_path: Path) -> None:
    assert [(c.reason, c.count) for c in withheld_by_reason(engine)] == [("no_consent", 2)]
    days = transfers_per_day(engine, NOW.date(), days=7)
    assert {(d.day.isoformat(), d.recipient, d.count) for d in days} == {
        *((NOW.date().isoformat(), r, 1) for r in DELIVERED_TO),
        ((NOW - timedelta(days=3)).date().isoformat(), "waste", 1),
        ((NOW - timedelta(days=3)).date().isoformat(), "parking", 1),
    }
    withdrawals = consent_withdrawals(engine, SECRET)
    assert [(w.subject_key, w.action) for w in withdrawals] == [
        (subject_key(SECRET, ALICE), "withdrawn")
    ]
    from hub.settings import HubSettings

    config = wire(HubSettings(config_dir=SAMPLE_CONFIG, data_dir=tmp_path)).config
    flows = {f.agreement_id: f for f in agreements_overview(engine, config, NOW.date())}
    assert set(flows) == {a.id for a in config.agreements}
    if "DSA-ADDR-001" in flows:
        assert flows["DSA-ADDR-001"].delivered == 6


def test_business_gauges_come_from_the_tables_and_hold_no_person(engine: Engine) -> None:
    gauges = read_gauges(engine, ["libraries"], ["waste"], timedelta(seconds=3))
    cache = GaugeCache(lambda: gauges, None, interval_s=60)
    asyncio.run(cache.refresh())
    text = metrics_text(cache).decode()
    assert "hub_audit_chain_head_seq 8.0" in text
    assert 'hub_dead_letters{recipient="waste"} 0.0' in text
    assert 'hub_inbox_pending_items{recipient="libraries"} 0.0' in text
    assert ALICE not in text and subject_key(SECRET, ALICE) not in text


def test_keys_are_stored_hashed_and_rotation_revokes(engine: Engine, tmp_path: Path) -> None:
    from hub.settings import HubSettings

    config = wire(HubSettings(config_dir=SAMPLE_CONFIG, data_dir=tmp_path)).config
    keys = KeyStore(engine)
    key = keys.add_system("ig-alice", "Alice (IG)", frozenset({Role.IG}), NOW)
    system = keys.system_for(config, hash_key(key))
    assert system and system.id == "ig-alice" and system.roles == frozenset({Role.IG})
    with pytest.raises(KeyProblem):
        keys.add_system("ig-alice", "again", frozenset({Role.IG}), NOW)
    # an id no systems.yaml could hold (nor a topic name): refused, not stored with a key
    with pytest.raises(KeyProblem, match="'IG Bob' is not a system id"):
        keys.add_system("IG Bob", "Bob", frozenset({Role.IG}), NOW)
    new = keys.rotate(config, "ig-alice", NOW)
    assert keys.system_for(config, hash_key(key)) is False
    assert keys.system_for(config, hash_key(new))
    # rotating a systems.yaml system revokes its YAML key too
    waste = keys.rotate(config, "waste", NOW)
    assert keys.system_for(config, hash_key("demo-waste-key")) is False
    found = keys.system_for(config, hash_key(waste))
    assert found and found.id == "waste" and Role.RECIPIENT in found.roles
    from sqlalchemy import text

    with engine.connect() as conn:
        stored = " ".join(
            str(v) for row in conn.execute(text("SELECT * FROM api_key")) for v in row
        )
    assert key not in stored and new not in stored and waste not in stored


def test_transfer_search_and_withheld_counts_use_uk_days(migrated_engine: Engine) -> None:
    """In summer a UK day starts at 23:00 UTC the day before: IG asking for 2 July gets what
    happened on 2 July in the UK, not in UTC."""
    after_midnight_bst = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)  # 00:30 on 2 July, UK time
    AuditStore(migrated_engine).write(
        [
            entry("e-summer", ALICE, "waste", Outcome.DELIVERED, after_midnight_bst),
            entry("e-summer", ALICE, "libraries", Outcome.WITHHELD, after_midnight_bst),
        ],
        after_midnight_bst,
    )
    access = SubjectAccess(migrated_engine, SECRET)

    def seqs(day: date) -> list[int]:
        q = TransferQuery(date_from=day, date_to=day)
        return [r.seq for r in access.search(q, "ig", "audit check", "api", NOW, names=NAMES).rows]

    assert seqs(date(2026, 7, 2)) == [1, 2]
    assert seqs(date(2026, 7, 1)) == []
    on_the_2nd = withheld_by_reason(migrated_engine, date(2026, 7, 2), date(2026, 7, 2))
    assert [(c.reason, c.count) for c in on_the_2nd] == [("no_consent", 1)]
    assert withheld_by_reason(migrated_engine, date(2026, 7, 1), date(2026, 7, 1)) == []
