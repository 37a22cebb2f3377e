"""Who may say what, and event ids per source, on the real broker with the real worker; and the
stores keyed by (source, event id) on SQLite and PostgreSQL (migration 0009)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from hub.access.keys import KeyStore, SystemExists
from hub.audit.store import AuditRow
from hub.config.model import Role
from hub.db.engine import make_engine
from hub.db.tables import ConsentRecord, IdentityLink, SubjectStatus
from hub.events.envelope import Envelope, Event
from hub.events.publisher import Accepted, EventPublisher
from hub.inbox.store import InboxStore
from hub.journal.store import JournalStore
from hub.rejected.store import RejectedStore, Rejection
from hub.review.store import Review, ReviewStore
from hub.routing.claims import Claim, ClaimStore
from hub.settings import HubSettings
from runtime.wiring import wire
from tests.integration.conftest import WorkerProcess
from tests.integration.test_flow import death, move
from tests.people import link_events
from tests.waiting import wait_for_items

ASC_PURPOSE = "Keep care and support records current"  # DSA-004, consent required
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def wait_rejected(store: RejectedStore, n: int, timeout: float = 30) -> list[Rejection]:
    return wait_for_items(lambda: store.list(limit=100), n, "rejections", timeout)


def count(engine: Engine, table: type) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table.__table__)).scalar_one())  # type: ignore[attr-defined]


def forged(event_id: str, source: str, type_: str, subject: str, data: dict[str, object]) -> Event:
    return Event(
        envelope=Envelope(id=event_id, source=source, type=type_, subject=subject, time=T0),
        data=data,
    )


async def test_facts_without_authority_change_nothing_and_ids_are_per_source(
    worker: WorkerProcess,
    publisher: EventPublisher,
    hub_settings: HubSettings,
    wait_audit: Callable[..., list[AuditRow]],
) -> None:
    engine = make_engine(hub_settings.effective_database_url)
    rejected = RejectedStore(engine)
    await publisher.publish_many([*link_events("P-100234"), *link_events("P-100871")])
    at = datetime.now(UTC) - timedelta(minutes=5)
    await publisher.publish_many(
        [
            # Council Tax may not notify a death
            forged(
                "ct-death", "council-tax", "death.notified", "P-100234",
                {"date_of_death": date(2026, 11, 18), "verified_by": "hospital"},
            ),
            # the Registrar may not record consent for DSA-004's purpose
            forged(
                "reg-consent", "registrar", "consent.changed", "P-100234",
                {"action": "granted", "purpose": ASC_PURPOSE, "recipient": None, "effective_at": at},
            ),
            # Council Tax may link only its own records
            forged(
                "ct-link", "council-tax", "person.linked", "P-100234",
                {"system": "waste", "local_id": "WST-FORGED"},
            ),
        ]
    )  # fmt: skip
    refused = {r.event_id: r.rules for r in wait_rejected(rejected, 3)}
    assert refused == {
        "ct-death": ("no_death_authority",),
        "reg-consent": ("no_consent_authority",),
        "ct-link": ("link_not_own_record",),
    }
    assert count(engine, SubjectStatus) == 0
    assert count(engine, ConsentRecord) == 0
    with engine.connect() as conn:
        forged_links = conn.execute(
            select(IdentityLink.local_id).where(IdentityLink.local_id == "WST-FORGED")  # type: ignore[arg-type]
        ).all()
    assert forged_links == []

    # Council Tax's move with id X and the Registrar's death with id X: two events, both told
    await publisher.publish(move("X"))
    await publisher.publish(death("X"))
    rows = wait_audit(["X"], expected=10, settle=0.5)
    assert len(rows) == 10
    by_source = {(r.source, r.recipient): r.outcome for r in rows}
    assert by_source[("registrar", "waste")] == "delivered"
    assert by_source[("council-tax", "waste")] == "delivered"
    # nobody was made deceased by Council Tax, nobody got consent from the Registrar
    assert by_source[("council-tax", "adult-social-care")] == "withheld"
    inbox = InboxStore(engine)
    waste = [i.delivery for i in inbox.fetch("waste", 0, 100)]
    moved = [d for d in waste if d.event_type == "address.changed"]
    assert [d.subject_flags for d in moved] == [()]
    assert len({d.delivery_id for d in waste if d.event_id == "X"}) == 2

    # the Registrar re-using its id X for other content: rejected as a conflict, not routed
    other = death("X").model_copy(
        update={"data": {"date_of_death": date(2026, 11, 17), "verified_by": "registrar"}}
    )
    await publisher.publish(other)
    conflict = [r for r in wait_rejected(rejected, 4) if r.event_id == "X"]
    assert [(r.source, r.rules) for r in conflict] == [("registrar", ("event_id_conflict",))]
    assert len(wait_audit(["X"], expected=10, settle=0.5)) == 10
    engine.dispose()


def accepted(source: str, event_id: str, digest: str) -> Accepted:
    return Accepted(
        event_id, "address.changed", source, "events.address.changed", b"k", b"v", (), digest
    )


def test_the_journal_claims_and_review_queue_key_events_by_source_and_id(
    migrated_engine: Engine,
) -> None:
    journal = JournalStore(migrated_engine)
    assert journal.record(
        [accepted("council-tax", "X", "h1"), accepted("registrar", "X", "h2")]
    ) == [
        ("council-tax", "X"),
        ("registrar", "X"),
    ]
    assert journal.record([accepted("council-tax", "X", "other")]) == []  # kept as is
    # a batch of repeats and new events (one twice): only what this call added comes back
    assert journal.record(
        [
            accepted("parking", "P1", "h10"),
            accepted("council-tax", "X", "other"),
            accepted("parking", "P2", "h11"),
            accepted("parking", "P1", "h12"),
            accepted("registrar", "X", "other"),
            accepted("parking", "P3", "h13"),
        ]
    ) == [("parking", "P1"), ("parking", "P2"), ("parking", "P3")]
    assert journal.content_of("parking", "P1") == "h10"
    assert journal.record([accepted("parking", "P3", "h13")]) == []
    journal.forget([("parking", "P1"), ("parking", "P2"), ("parking", "P3")])
    # only a repeat is skipped: a row the database refuses is an error, never silently dropped
    broken = Accepted("P4", "address.changed", "parking", "events.address.changed", b"k", None, ())  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        journal.record([broken])
    assert journal.content_of("parking", "P4") is None
    assert journal.content_of("council-tax", "X") == "h1"
    assert journal.content_of("registrar", "X") == "h2"
    assert journal.content_of("parking", "X") is None
    journal.mark_routed({("registrar", "X"): 0}, T0)
    assert journal.counts() == {"accepted": 1, "complete": 1}
    journal.forget([("council-tax", "X")])
    assert journal.content_of("council-tax", "X") is None
    assert journal.content_of("registrar", "X") == "h2"

    claims = ClaimStore(migrated_engine)
    of_record = claims.claim(
        [
            Claim("registrar", "X", "address.changed", "h-kafka"),  # journaled as h2 by the API
            Claim("housing", "X", "address.changed", "h3"),  # straight onto Kafka: first wins
            Claim("housing", "X", "address.changed", "h4"),
        ],
        T0,
    )
    # the router's claims: the first content it saw wins
    assert of_record == {("registrar", "X"): "h-kafka", ("housing", "X"): "h3"}
    # the API's view: the journal's content first (what it answered "accepted" for)
    assert claims.content_of("registrar", "X") == "h2"
    assert claims.claim([Claim("housing", "X", "address.changed", "h5")], T0) == {
        ("housing", "X"): "h3"
    }
    assert claims.content_of("housing", "X") == "h3"
    assert claims.content_of("housing", "Y") is None
    # some claimed before, some new, one twice: each key answers its first content of record
    assert claims.claim(
        [
            Claim("housing", "Y", "address.changed", "h6"),
            Claim("housing", "X", "address.changed", "h7"),
            Claim("housing", "Z", "address.changed", "h8"),
            Claim("housing", "Z", "address.changed", "h9"),
        ],
        T0,
    ) == {("housing", "Y"): "h6", ("housing", "X"): "h3", ("housing", "Z"): "h8"}
    assert claims.content_of("housing", "Z") == "h8"

    review = ReviewStore(migrated_engine)
    item = Review(
        event_id="X", event_type="death.notified", source="registrar", subject_key="k",
        reason="unresolved", topic="t", key=None, value=b"v", headers=[], created_at=T0,
    )  # fmt: skip
    review.add([item, item.model_copy(update={"source": "council-tax"}), item])
    assert sorted(r.source for r in review.find()) == ["council-tax", "registrar"]


def test_an_existing_system_cannot_be_added_again(
    migrated_engine: Engine, settings: HubSettings
) -> None:
    config = wire(settings).config
    keys = KeyStore(migrated_engine)
    with pytest.raises(SystemExists, match="hub keys rotate"):
        keys.add_system("registrar", "Registrar", frozenset({Role.IG}), T0, config)
    keys.add_system("ig-bob", "Bob", frozenset({Role.IG}), T0, config)
    with pytest.raises(SystemExists):
        keys.add_system("ig-bob", "Bob", frozenset({Role.ADMIN}), T0, config)


def test_a_webhook_hand_over_counts_for_the_source_whose_delivery_it_is(
    migrated_engine: Engine,
) -> None:
    from hub.db.tables import WebhookOutbox
    from hub.routing.messages import delivery_id

    journal = JournalStore(migrated_engine)
    journal.record([accepted("council-tax", "W", "h1"), accepted("registrar", "W", "h2")], at=T0)
    journal.mark_routed({("council-tax", "W"): 1, ("registrar", "W"): 1}, T0)
    with migrated_engine.begin() as conn:
        conn.execute(
            WebhookOutbox.__table__.insert(),  # type: ignore[attr-defined]
            {
                "delivery_id": delivery_id("W", "waste", source="registrar"),
                "recipient": "waste",
                "subject_key": "k",
                "event_id": "W",
                "event_type": "death.notified",
                "payload": "{}",
                "status": "pending",
                "attempts": 0,
                "attempt_base": 0,
                "next_attempt_at": T0,
                "created_at": T0,
                "updated_at": T0,
                "last_error": "",
            },
        )
    due = journal.due(T0 + timedelta(minutes=1), timedelta(seconds=30))
    assert [(e.source, e.event_id) for e in due] == [("council-tax", "W")]
