"""The hash-chained audit store on real SQLite and PostgreSQL: writes, verify, tampering,
checkpoints and retention."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text

from hub.audit.checkpoint import CheckpointStore
from hub.audit.retention import purge_before
from hub.audit.signing import Signer
from hub.audit.store import AuditFilter, AuditStore
from hub.audit.verify import verify_chain
from hub.db.engine import make_engine, migrate
from hub.routing.messages import AuditEntry, AuditReason, Mode, Outcome, delivery_id

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
SIGNER = Signer(Ed25519PrivateKey.generate())


def entry(i: int, recipient: str = "waste", outcome: Outcome = Outcome.DELIVERED) -> AuditEntry:
    did = delivery_id(f"e{i}", recipient, source="council-tax")
    return AuditEntry(
        entry_id=AuditEntry.make_id(did, outcome),
        delivery_id=did,
        event_id=f"e{i}",
        event_type="address.changed",
        source="council-tax",
        recipient=recipient,
        subject_key=f"{i % 7:032d}",
        outcome=outcome,
        reasons=(AuditReason(code="no_consent", message="withdrawn", agreement_id="DSA-1"),)
        if outcome is Outcome.WITHHELD
        else (),
        agreement_id="DSA-1",
        agreement_version="v1hash",
        lawful_basis="Art. 6(1)(e)",
        fields=("new_address.postcode",),
        event_time=T0,
        decided_at=T0 + timedelta(milliseconds=i),
        mode=Mode.REPLAY if i % 5 == 0 else Mode.LIVE,
        local_id=f"W-{i}",
        purpose="bin collection",
        subject_flags=("deceased",) if i % 11 == 0 else (),
        attempt=1,
        http_status=204,
        latency_ms=12.5,
    )


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    return migrated_engine


def filled(engine: Engine, n: int = 10) -> AuditStore:
    store = AuditStore(engine)
    assert store.write([entry(i) for i in range(1, n + 1)], T0) == n
    return store


def verify(engine: Engine, published: object = None) -> tuple[bool, int | None, str]:
    result = verify_chain(engine, CheckpointStore.signing(engine, SIGNER), published)  # type: ignore[arg-type]
    brk = result.first_break
    return result.ok, brk.seq if brk else None, brk.problem if brk else ""


def test_every_field_is_kept_and_the_chain_verifies(engine: Engine) -> None:
    store = filled(engine, 12)
    # redelivery of a whole batch, and duplicates inside one batch, add nothing
    assert store.write([entry(3), entry(3), entry(13)], T0) == 1
    rows = store.query(AuditFilter(limit=100))
    assert [r.seq for r in rows] == list(range(1, 14))
    r = rows[9]  # entry 10
    assert (r.mode, r.local_id, r.purpose, r.attempt, r.http_status, r.latency_ms) == (
        "replay",
        "W-10",
        "bin collection",
        1,
        204,
        12.5,
    )
    assert rows[10].subject_flags == ("deceased",)
    ok, _, problem = verify(engine)
    assert ok, problem


def test_withheld_reasons_keep_code_message_and_agreement(engine: Engine) -> None:
    store = AuditStore(engine)
    store.write([entry(1, "libraries", Outcome.WITHHELD)], T0)
    (row,) = store.query(AuditFilter())
    assert row.reason_codes == ("no_consent",)
    assert row.reason_details[0].agreement_id == "DSA-1"


def test_an_edited_row_is_named(engine: Engine) -> None:
    filled(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_record SET recipient = 'parking' WHERE seq = 4"))
    ok, seq, problem = verify(engine)
    assert not ok and seq == 4 and "altered" in problem


def test_an_edited_time_is_named(engine: Engine) -> None:
    filled(engine)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_record SET decided_at = :t WHERE seq = 7"),
            {"t": T0 + timedelta(days=1)},
        )
    ok, seq, _ = verify(engine)
    assert not ok and seq == 7


def test_a_deleted_row_is_named(engine: Engine) -> None:
    filled(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_record WHERE seq = 5"))
    ok, seq, problem = verify(engine)
    assert not ok and seq == 6 and "5..5 are missing" in problem


def test_an_inserted_row_is_named(engine: Engine) -> None:
    """A forged row slipped in between 5 and 6 (later rows renumbered to make room)."""
    filled(engine)
    with engine.begin() as conn:
        for seq in range(10, 5, -1):
            conn.execute(text(f"UPDATE audit_record SET seq = {seq + 1} WHERE seq = {seq}"))
        conn.execute(
            text(
                "INSERT INTO audit_record (seq, entry_id, recorded_at, delivery_id, event_id, "
                "event_type, source, recipient, subject_key, outcome, reason_codes, reasons, "
                "fields, event_time, decided_at, mode, subject_flags, prev_hash, row_hash) "
                "SELECT 6, 'forged', recorded_at, delivery_id, 'forged', event_type, source, "
                "'parking', subject_key, outcome, reason_codes, reasons, fields, event_time, "
                "decided_at, mode, subject_flags, row_hash, row_hash FROM audit_record "
                "WHERE seq = 5"
            )
        )
    ok, seq, problem = verify(engine)
    assert not ok and seq == 6 and "altered" in problem


def test_reordered_rows_are_named(engine: Engine) -> None:
    filled(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_record SET seq = 1000 WHERE seq = 3"))
        conn.execute(text("UPDATE audit_record SET seq = 3 WHERE seq = 4"))
        conn.execute(text("UPDATE audit_record SET seq = 4 WHERE seq = 1000"))
    ok, seq, problem = verify(engine)
    assert not ok and seq == 3 and "does not follow row 2" in problem


def test_a_truncated_tail_is_found_by_the_head_and_by_a_checkpoint(
    engine: Engine, tmp_path: Path
) -> None:
    from hub.audit.checkpoint import Checkpoint

    filled(engine)
    checkpoints = CheckpointStore.signing(engine, SIGNER)
    cp = checkpoints.publish(T0)
    assert (cp.head_seq, cp.row_count) == (10, 10)
    cp.to_file(tmp_path / "cp.json")
    published = Checkpoint.from_file(tmp_path / "cp.json")
    assert checkpoints.signature_valid(published)
    AuditStore(engine).write([entry(11)], T0)
    assert verify(engine, published)[0]
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_record WHERE seq >= 9"))
    ok, seq, problem = verify(engine)
    assert not ok and seq == 9 and "truncated" in problem
    # an attacker who also rewinds the chain head is still caught by the published checkpoint
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE audit_chain_head SET head_seq = 8, head_hash = "
                "(SELECT row_hash FROM audit_record WHERE seq = 8)"
            )
        )
    assert verify(engine)[0]
    ok, seq, problem = verify(engine, published)
    assert not ok and seq == 9 and "names row 10" in problem


def test_purge_leaves_a_signed_anchor_and_the_rest_verifies(engine: Engine) -> None:
    store = AuditStore(engine)
    store.write([entry(i) for i in range(1, 6)], T0)
    store.write([entry(i) for i in range(6, 11)], T0 + timedelta(days=400))
    checkpoints = CheckpointStore.signing(engine, SIGNER)
    done = purge_before(checkpoints, T0 + timedelta(days=1), T0 + timedelta(days=401))
    assert done.deleted == 5 and done.anchor is not None and done.anchor.head_seq == 5
    assert [r.seq for r in store.query(AuditFilter())] == list(range(6, 11))
    ok, _, problem = verify(engine)
    assert ok, problem
    store.write([entry(11)], T0 + timedelta(days=402))
    assert verify(engine)[0]
    # an anchor checked with another hub's public key is refused
    other = Signer(Ed25519PrivateKey.generate()).verifier
    forged = verify_chain(engine, CheckpointStore(engine, other))
    assert not forged.ok and forged.first_break is not None
    assert "not signed" in forged.first_break.problem


def test_concurrent_writers_keep_one_chain(engine: Engine) -> None:
    store = AuditStore(engine)
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            for b in range(5):
                start = offset + b * 20
                store.write([entry(i) for i in range(start, start + 20)], T0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.count() == 400
    ok, _, problem = verify(engine)
    assert ok, problem


def test_rows_written_before_the_chain_are_chained_by_the_migration(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from hub.db.engine import MIGRATIONS

    eng = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with eng.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
        for i in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO audit_record (entry_id, recorded_at, delivery_id, event_id, "
                    "event_type, source, recipient, subject_key, outcome, reason_codes, reasons, "
                    "fields, event_time, decided_at) VALUES (:id, :t, 'd', 'e', 'address.changed', "
                    "'council-tax', 'waste', 'k', 'withheld', 'no_agreement', '[\"old style\"]', "
                    "'[]', :t, :t)"
                ),
                {"id": f"old-{i}", "t": T0},
            )
    migrate(eng)
    assert verify(eng)[0]
    store = AuditStore(eng)
    store.write([entry(1)], T0)
    rows = store.query(AuditFilter())
    assert rows[0].reasons == ("old style",) and len(rows) == 4
    assert verify(eng)[0]
    eng.dispose()


def test_the_database_spells_the_canonical_form_as_the_writer_does(engine: Engine) -> None:
    """Quotes, backslashes, control characters, non-ASCII text and awkward floats."""
    odd = entry(1, outcome=Outcome.WITHHELD).model_copy(
        update={
            "reasons": (AuditReason(code="x", message='say "no" \\ é ü 中 \n\t\x1f\x7f \u2028'),),
            "latency_ms": 0.1 + 0.2,
            "attempt": 3,
            "purpose": None,
            "http_status": 503,
        }
    )
    big = entry(2).model_copy(update={"latency_ms": 123456.789012345, "attempt": 7})
    negative_zero = entry(3).model_copy(update={"latency_ms": -0.0001, "http_status": None})
    AuditStore(engine).write([odd, big, negative_zero], T0)
    ok, _, problem = verify(engine)
    assert ok, problem


@pytest.mark.parametrize("tamper", ["none", "edit", "delete_at_boundary", "truncate"])
def test_verify_in_parallel_slices_finds_the_same_breaks(
    engine: Engine, tamper: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hub.audit.verify as verify_module

    monkeypatch.setattr(verify_module, "PARALLEL_FROM", 10)
    filled(engine, 40)
    sql = {
        "edit": "UPDATE audit_record SET fields = '[]' WHERE seq = 33",
        "delete_at_boundary": "DELETE FROM audit_record WHERE seq = 21",
        "truncate": "DELETE FROM audit_record WHERE seq > 37",
    }.get(tamper)
    if sql:
        with engine.begin() as conn:
            conn.execute(text(sql))
    result = verify_chain(engine, CheckpointStore.signing(engine, SIGNER), workers=2)
    expected = {"none": None, "edit": 33, "delete_at_boundary": 22, "truncate": 38}[tamper]
    assert (result.first_break.seq if result.first_break else None) == expected, result
    if tamper == "none":
        assert result.rows_checked == 40 and result.head_seq == 40


def test_a_large_batch_holding_rows_already_recorded_appends_only_the_rest_in_order(
    engine: Engine,
) -> None:
    """Rows are hashed as the insert takes them (a COPY on PostgreSQL has sent thousands before
    it meets the recorded one): the failed attempt leaves nothing, the retry appends the rest."""
    store = AuditStore(engine)
    assert store.write([entry(i) for i in range(2000, 2010)], T0) == 10
    batch = [entry(i) for i in range(1, 4001)]
    assert store.write(batch, T0) == 3990
    assert store.count() == 4000
    rows = store.query(AuditFilter(limit=5000))
    assert [r.seq for r in rows] == list(range(1, 4001))
    recorded = {f"e{i}" for i in range(2000, 2010)}
    assert [r.entry_id for r in rows[10:]] == [
        e.entry_id for e in batch if e.event_id not in recorded
    ]
    ok, _, problem = verify(engine)
    assert ok, problem
