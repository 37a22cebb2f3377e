"""Per-person state and the review queue on real SQLite and real PostgreSQL (real migrations)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine

from hub.policy.state import ConsentAction
from hub.review.store import Review, ReviewStore
from hub.routing.originals import AuditOriginals
from hub.subjects.changes import ConsentChange, DeathChange, LinkChange
from hub.subjects.store import SubjectChanges, SubjectStore

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def link(
    event_id: str, system: str, local_id: str, at: datetime, subject: str = "P-1"
) -> LinkChange:
    return LinkChange(event_id, subject, system, local_id, at)


def test_state_round_trips_and_redelivery_changes_nothing(migrated_engine: Engine) -> None:
    store = SubjectStore(migrated_engine, "a-test-pseudonym-secret-of-32-characters")
    changes = SubjectChanges(
        consent=[
            ConsentChange("c-1", "P-1", ConsentAction.GRANTED, "Care", None, T0),
            ConsentChange(
                "c-2",
                "P-1",
                ConsentAction.WITHDRAWN,
                "Care",
                "adult-social-care",
                T0 + timedelta(hours=1),
            ),
        ],
        links=[link("l-1", "waste", "W-1", T0), link("l-2", "parking", "PK-1", T0)],
        deaths=[DeathChange("d-1", "P-1", date(2026, 10, 30))],
    )
    store.record(changes, T0)
    store.record(changes, T0)  # at-least-once: the same batch again
    state = store.load(["P-1", "P-unknown"])
    assert set(state) == {"P-1"}
    p1 = state["P-1"]
    assert [(f.action, f.recipient) for f in p1.consent] == [
        (ConsentAction.GRANTED, None),
        (ConsentAction.WITHDRAWN, "adult-social-care"),
    ]
    assert p1.consent[0].seq < p1.consent[1].seq
    assert dict(p1.links) == {"waste": "W-1", "parking": "PK-1"}
    assert p1.deceased_on == date(2026, 10, 30) and p1.flags == ("deceased",)


def test_a_newer_link_replaces_an_older_one_but_never_the_reverse(migrated_engine: Engine) -> None:
    store = SubjectStore(migrated_engine, "a-test-pseudonym-secret-of-32-characters")
    store.record(SubjectChanges(links=[link("l-1", "waste", "W-OLD", T0)]), T0)
    store.record(SubjectChanges(links=[link("l-2", "waste", "W-NEW", T0 + timedelta(days=1))]), T0)
    store.record(SubjectChanges(links=[link("l-1", "waste", "W-OLD", T0)]), T0)  # late redelivery
    assert dict(store.load(["P-1"])["P-1"].links) == {"waste": "W-NEW"}
    assert store.subjects_for_local_id("W-NEW", "waste") == ["P-1"]
    assert store.subjects_for_local_id("W-OLD") == []


def test_the_first_death_notification_stands(migrated_engine: Engine) -> None:
    store = SubjectStore(migrated_engine, "a-test-pseudonym-secret-of-32-characters")
    store.record(SubjectChanges(deaths=[DeathChange("d-1", "P-1", date(2026, 10, 30))]), T0)
    store.record(SubjectChanges(deaths=[DeathChange("d-2", "P-1", date(2026, 10, 29))]), T0)
    assert store.load(["P-1"])["P-1"].deceased_on == date(2026, 10, 30)


def review(event_id: str, key: str = "k1") -> Review:
    return Review(
        event_id=event_id,
        event_type="address.changed",
        source="council-tax",
        subject_key=key,
        reason="unresolved",
        topic="events.address.changed",
        key=b"P-1",
        value=b"\x00bytes",
        headers=[("ce_id", event_id.encode())],
        created_at=T0,
    )


def test_review_queue_keeps_records_whole_and_releases_them(migrated_engine: Engine) -> None:
    store = ReviewStore(migrated_engine)
    store.add([review("e-1"), review("e-2", "k2"), review("e-1")])
    items = store.find()
    assert [i.event_id for i in items] == ["e-1", "e-2"]
    assert items[0].value == b"\x00bytes" and items[0].headers == [("ce_id", b"e-1")]
    assert [i.event_id for i in store.open_for(["k1"])] == ["e-1"]
    store.mark_released([items[0].seq], T0)
    assert [i.event_id for i in store.find()] == ["e-2"]
    store.add([review("e-1")])  # routed again and still unresolved: back in the queue
    assert [i.event_id for i in store.find()] == ["e-1", "e-2"]


def test_originals_are_the_recipients_the_audit_says_received_the_event(
    migrated_engine: Engine,
) -> None:
    from hub.audit.store import AuditStore
    from hub.routing.messages import AuditEntry, Outcome

    def entry(recipient: str, outcome: Outcome) -> AuditEntry:
        return AuditEntry(
            entry_id=f"d-{recipient}:{outcome.value}",
            delivery_id=f"d-{recipient}",
            event_id="e-1",
            event_type="address.changed",
            source="council-tax",
            recipient=recipient,
            subject_key="k",
            outcome=outcome,
            event_time=T0,
            decided_at=T0,
        )

    AuditStore(migrated_engine).write(
        [entry("waste", Outcome.DELIVERED), entry("libraries", Outcome.WITHHELD)], T0
    )
    found = AuditOriginals(migrated_engine).delivered(["e-1", "e-2"])
    assert {k: [o.recipient for o in v] for k, v in found.items()} == {"e-1": ["waste"]}
