"""Every link in the hash-chained audit trail (SQLite and PostgreSQL): an automatic link with its
probability, model version and agreeing fields; a person's accept and reject with who decided;
an unlink. References only (ids, probabilities, field names), never the person's values. `hub
audit verify` stays green and names an edited link entry; IG's search by hub id shows them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text

from hub.audit.checkpoint import CheckpointStore
from hub.audit.queries import PersonRef, TransferQuery, resolve_person, search
from hub.audit.signing import Signer
from hub.audit.store import AuditRow
from hub.audit.verify import verify_chain
from hub.identity.extracts import parse_rows
from hub.identity.model import FieldResult
from hub.identity.store import MatchStore, NewLink, ServiceRecords
from hub.pseudonym import subject_key

pytestmark = pytest.mark.postgres

SECRET = "a-test-pseudonym-secret-of-32-characters"
T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
SIGNER = Signer(Ed25519PrivateKey.generate())
PERSON = {
    "local_id": "PK-1",
    "given_names": "Annabel",
    "family_name": "Featherstonehaugh",
    "date_of_birth": "1970-03-04",
    "postcode": "EX1 2AB",
    "email": "annabel@example.org",
}


def ig_rows(engine: Engine, hub_id: str) -> list[AuditRow]:
    person = PersonRef(hub_id=hub_id)
    return search(engine, TransferQuery(person=person), resolve_person(engine, SECRET, person)).rows


def auto_link(subject: str = "P-1", system: str = "parking", local_id: str = "PK-1") -> NewLink:
    return NewLink(
        subject=subject,
        system=system,
        local_id=local_id,
        method="auto",
        probability=0.9999871,
        model_version="3f2a9c0d11aa22bb",
        agreeing=("given_name", "date_of_birth"),
        decided_by=None,
        event_id="ev-1",
    )


def test_links_decisions_and_unlinks_land_in_the_chain(migrated_engine: Engine) -> None:
    ServiceRecords(migrated_engine).apply("parking", parse_rows([PERSON]), T0)
    store = MatchStore(migrated_engine, SECRET)
    store.link([auto_link()], T0)
    fields = [FieldResult("given_name", "exact", "agree", 6.5)]
    store.add_candidates(
        "council-tax",
        "ev-2",
        "address.changed",
        "P-1",
        [("libraries", "LB-7", 0.93, "v2", fields), ("libraries", "LB-8", 0.61, "v2", fields)],
        T0,
    )
    accepted, rejected = store.candidates()
    assert store.decide(accepted.seq, "accepted", "A. Reviewer (ig-desk)", T0)
    store.link(
        [
            NewLink(
                "P-1", "libraries", "LB-7", "clerical", 0.93, "v2", ("given_name",),
                "A. Reviewer (ig-desk)", "ev-2",
            )
        ],
        T0,
    )  # fmt: skip
    assert store.decide(rejected.seq, "rejected", "B. Checker (ig-desk)", T0)
    assert store.unlink("P-1", "parking", "C. Officer (ig)", T0) is not None

    rows = ig_rows(migrated_engine, "P-1")
    assert [(r.outcome, r.recipient, r.local_id) for r in rows] == [
        ("linked", "parking", "PK-1"),
        ("linked", "libraries", "LB-7"),
        ("link_rejected", "libraries", "LB-8"),
        ("unlinked", "parking", "PK-1"),
    ]
    auto, clerical, reject, undo = rows
    assert {r.subject_key for r in rows} == {subject_key(SECRET, "P-1")}
    assert auto.fields == ("given_name", "date_of_birth")
    assert auto.reason_codes == ("link_auto",)
    assert "0.9999871" in auto.reasons[0] and "3f2a9c0d11aa22bb" in auto.reasons[0]
    assert auto.event_id == "ev-1"
    assert clerical.reason_codes == ("link_clerical",)
    assert "A. Reviewer (ig-desk)" in clerical.reasons[0] and "0.93" in clerical.reasons[0]
    assert reject.reason_codes == ("link_rejected",) and "B. Checker" in reject.reasons[0]
    assert undo.reason_codes == ("link_undone",) and "C. Officer (ig)" in undo.reasons[0]
    # references only: none of the person's identifying values are in the audit store
    with migrated_engine.connect() as conn:
        dump = " ".join(
            str(v) for row in conn.execute(text("SELECT * FROM audit_record")) for v in row
        )
    for value in ("Annabel", "Featherstonehaugh", "1970-03-04", "EX1 2AB", "annabel@", "P-1"):
        assert value not in dump
    # the identity link log has the same four
    assert [r["action"] for r in store.log("P-1")][::-1] == [
        "linked",
        "linked",
        "rejected",
        "unlinked",
    ]

    checkpoints = CheckpointStore.signing(migrated_engine, SIGNER)
    result = verify_chain(migrated_engine, checkpoints)
    assert result.ok and result.rows_checked == 4, result.first_break
    with migrated_engine.begin() as conn:  # someone makes the automatic link look surer
        conn.execute(
            text(
                "UPDATE audit_record SET reasons = replace(reasons, '0.9999871', '0.9999999') "
                "WHERE seq = :s"
            ),
            {"s": auto.seq},
        )
    result = verify_chain(migrated_engine, checkpoints)
    assert not result.ok and result.first_break is not None
    assert result.first_break.seq == auto.seq and "altered" in result.first_break.problem


def test_a_bulk_run_audits_each_link_in_one_chain(migrated_engine: Engine) -> None:
    store = MatchStore(migrated_engine, SECRET)
    links = [
        NewLink(f"P-{i}", "waste", f"W-{i}", "bulk", 0.9995, "v9", (), None, "bulk-v9")
        for i in range(1200)
    ]
    store.link(links, T0)
    with migrated_engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM audit_record WHERE outcome = 'linked'")
        ).scalar_one()
    assert n == 1200
    assert [r.outcome for r in ig_rows(migrated_engine, "P-1199")] == ["linked"]
    result = verify_chain(migrated_engine, CheckpointStore.signing(migrated_engine, SIGNER))
    assert result.ok and result.rows_checked == 1200


def test_a_customer_index_link_lands_in_the_chain_once(migrated_engine: Engine) -> None:
    """`person.linked` from a customer index: the link, its log row and its audit entry in one
    transaction, with the source that asserted it; a redelivered event adds nothing, an older
    one changes nothing, and the link replaces an automatic one with its own provenance."""
    from datetime import timedelta

    from hub.subjects.changes import LinkChange
    from hub.subjects.store import SubjectChanges, SubjectStore

    MatchStore(migrated_engine, SECRET).link([auto_link(local_id="PK-OLD")], T0)
    store = SubjectStore(migrated_engine, secret=SECRET)
    later = T0 + timedelta(hours=1)
    index_link = LinkChange("ci-1", "P-1", "parking", "PK-1", later, source="customer-index")
    store.record(SubjectChanges(links=[index_link]), later)
    store.record(SubjectChanges(links=[index_link]), later)  # at-least-once: the same again
    stale = LinkChange("ci-0", "P-1", "parking", "PK-STALE", T0, source="customer-index")
    store.record(SubjectChanges(links=[stale]), later)  # older than the link it would replace

    rows = ig_rows(migrated_engine, "P-1")
    assert [(r.outcome, r.recipient, r.local_id, r.event_id) for r in rows] == [
        ("linked", "parking", "PK-OLD", "ev-1"),
        ("linked", "parking", "PK-1", "ci-1"),
    ]
    index = rows[1]
    assert index.reason_codes == ("link_person_linked",)
    assert "customer-index" in index.reasons[0]
    links = MatchStore(migrated_engine, SECRET).links_of("P-1")
    assert [(lk.local_id, lk.method, lk.probability, lk.decided_by) for lk in links] == [
        ("PK-1", "person.linked", None, "customer-index")
    ]
    log = MatchStore(migrated_engine, SECRET).log("P-1")
    assert [(r["action"], r["method"], r["decided_by"]) for r in log][::-1] == [
        ("linked", "auto", None),
        ("linked", "person.linked", "customer-index"),
    ]
    result = verify_chain(migrated_engine, CheckpointStore.signing(migrated_engine, SIGNER))
    assert result.ok and result.rows_checked == 2, result.first_break
