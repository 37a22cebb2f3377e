"""The identity stores on SQLite and PostgreSQL: extracts upserted, deleted and fully refreshed,
candidate lookups by blocking key, links with provenance, decisions and unlinks logged."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from hub.identity.extracts import parse_rows, probe_keys
from hub.identity.model import FieldResult
from hub.identity.normalise import PersonFields, features
from hub.identity.store import MatchStore, NewLink, ServiceRecords
from hub.timeutil import utcnow

pytestmark = pytest.mark.postgres

ROWS = [
    {
        "local_id": "W-1",
        "given_names": "Ann",
        "family_name": "Lee",
        "date_of_birth": "1970-03-04",
        "postcode": "EX1 2AB",
        "uprn": "1001",
    },
    {
        "local_id": "W-2",
        "given_names": "Bob",
        "family_name": "Khan",
        "date_of_birth": "1980-05-06",
        "postcode": "EX2 3CD",
    },
    {
        "local_id": "W-3",
        "given_names": "Cat",
        "family_name": "Ng",
        "date_of_birth": "1990-07-08",
        "postcode": "EX3 4EF",
    },
]


def test_extracts_upsert_delete_and_refresh(migrated_engine: Engine) -> None:
    records = ServiceRecords(migrated_engine)
    now = utcnow()
    assert records.apply("waste", parse_rows(ROWS), now).upserted == 3
    changed = [{**ROWS[0], "family_name": "Lee-Smith"}, {"local_id": "W-2", "deleted": "yes"}]
    result = records.apply("waste", parse_rows(changed), now)
    assert (result.upserted, result.deleted) == (1, 1)
    got = records.get("waste", "W-1")
    assert (
        got is not None and got.family_name == "Lee-Smith" and got.date_of_birth == date(1970, 3, 4)
    )
    assert records.get("waste", "W-2") is None
    refreshed = records.apply("waste", parse_rows([ROWS[2]]), now, full_refresh=True)
    assert (refreshed.upserted, refreshed.deleted) == (1, 1)  # W-1 was not in the refresh
    assert records.counts() == {"waste": 1}
    assert records.purge(now + timedelta(seconds=1), dry_run=True) == 1
    assert records.purge(now - timedelta(days=1)) == 0


def test_candidates_are_found_by_each_blocking_key(migrated_engine: Engine) -> None:
    records = ServiceRecords(migrated_engine)
    records.apply("waste", parse_rows(ROWS), utcnow())
    records.apply("parking", parse_rows(ROWS[:1]), utcnow())
    moved = PersonFields(
        local_id="P-1",
        given_names="Ann",
        family_name="Lee",
        date_of_birth=date(1970, 4, 3),  # day and month swapped
        postcode="TQ1 1AA",
        previous_uprn="1001",
    )
    found = records.candidates(["waste", "parking", "libraries"], probe_keys(features(moved)))
    assert [p.local_id for p in found["waste"]] == ["W-1"]
    assert [p.local_id for p in found["parking"]] == ["W-1"]
    assert found["libraries"] == []


def test_links_decisions_and_unlinks_are_logged_with_provenance(migrated_engine: Engine) -> None:
    store = MatchStore(migrated_engine, "a-test-pseudonym-secret-of-32-characters")
    now = utcnow()
    fields = [FieldResult("given_name", "exact", "agree", 6.5)]
    store.add_candidates(
        "council-tax",
        "e-1",
        "address.changed",
        "P-1",
        [("parking", "PK-1", 0.9, "v1", fields), ("parking", "PK-2", 0.6, "v1", fields)],
        now,
    )
    store.add_candidates(
        "council-tax",
        "e-1",
        "address.changed",
        "P-1",
        [("parking", "PK-1", 0.9, "v1", fields)],
        now,
    )  # a redelivery
    pairs = store.candidates()
    assert [(c.local_id, c.fields) for c in pairs] == [
        ("PK-1", tuple(fields)),
        ("PK-2", tuple(fields)),
    ]
    assert store.decide(pairs[0].seq, "accepted", "A. Reviewer (information-governance)", now)
    assert not store.decide(pairs[0].seq, "rejected", "someone else", now)
    store.link(
        [
            NewLink(
                "P-1",
                "parking",
                "PK-1",
                "clerical",
                0.9,
                "v1",
                ("given_name",),
                "A. Reviewer",
                "e-1",
            )
        ],
        now,
    )
    store.close_others("council-tax", "e-1", "parking", now)
    assert store.candidates() == []
    (link,) = store.links_of("P-1")
    assert (link.method, link.probability, link.agreeing, link.decided_by) == (
        "clerical",
        0.9,
        ("given_name",),
        "A. Reviewer",
    )
    removed = store.unlink("P-1", "parking", "IG officer", now)
    assert removed is not None and removed.local_id == "PK-1"
    assert store.links_of("P-1") == []
    assert [(r["action"], r["decided_by"]) for r in store.log("P-1")] == [
        ("unlinked", "IG officer"),
        ("linked", "A. Reviewer"),
    ]
