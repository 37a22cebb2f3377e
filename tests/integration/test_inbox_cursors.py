"""Pull inbox cursors under several concurrent writers, on real SQLite and real PostgreSQL.

Writers commit out of order (each holds its transaction open for a random few milliseconds);
a reader pages by the cursor it was given and acknowledges up to it. It must see every
delivery exactly once, and never acknowledge one it was not handed.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event, select, text

from hub.db.engine import MIGRATIONS, make_engine
from hub.db.tables import InboxItem
from hub.inbox.store import AckBeyondHandedOut, CursorNeverGiven, CursorsRenumbered, InboxStore
from hub.routing.messages import Delivery, Mode, delivery_id

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
RECIPIENTS = ("parking", "waste", "libraries")
WRITERS = 3
BATCHES = 25
BATCH_SIZE = 8


def _delivery(event_id: str, recipient: str, mode: Mode = Mode.LIVE) -> Delivery:
    return Delivery(
        delivery_id=delivery_id(event_id, recipient, source="council-tax"),
        event_id=event_id,
        event_type="address.changed",
        source="council-tax",
        subject="P-1",
        subject_key="k" * 32,
        recipient=recipient,
        local_id=None,
        event_time=NOW,
        agreement_id="DSA-001",
        agreement_version="abc123",
        lawful_basis="Art. 6(1)(e)",
        purpose="bins",
        fields=("new_address.postcode",),
        data={"new_address": {"postcode": "EX4 7QT"}},
        decided_at=NOW,
        mode=mode,
    )


def _slow_commits(engine: Engine, rng: random.Random) -> None:
    """Hold every transaction open a random few milliseconds before it commits."""

    @event.listens_for(engine, "commit")
    def _delay(_conn: Any) -> None:
        time.sleep(rng.uniform(0, 0.012))


def _writer(url: str, number: int, written: list[Delivery], errors: list[BaseException]) -> None:
    engine = make_engine(url)
    rng = random.Random(number)
    _slow_commits(engine, rng)
    store = InboxStore(engine)
    try:
        previous: list[Delivery] = []
        for b in range(BATCHES):
            batch = [
                _delivery(f"w{number}-b{b}-{i}", rng.choice(RECIPIENTS)) for i in range(BATCH_SIZE)
            ]
            store.add(batch, NOW)
            written.extend(batch)
            if previous and rng.random() < 0.3:  # a redelivered batch (a worker restarted)
                store.add(previous, NOW)
            previous = batch
    except BaseException as exc:  # reported by the test thread
        errors.append(exc)
    finally:
        engine.dispose()


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_a_paging_reader_sees_every_delivery_once_and_acks_only_what_it_saw(
    migrated_engine: Engine,
) -> None:
    url = _url(migrated_engine)
    written: list[Delivery] = []
    errors: list[BaseException] = []
    writers = [
        threading.Thread(target=_writer, args=(url, n, written, errors)) for n in range(WRITERS)
    ]
    reader = InboxStore(migrated_engine)
    rng = random.Random(99)
    cursor = dict.fromkeys(RECIPIENTS, 0)
    seen: dict[str, list[str]] = {r: [] for r in RECIPIENTS}
    acked_count = 0
    for w in writers:
        w.start()
    deadline = time.monotonic() + 120
    while True:
        writing = any(w.is_alive() for w in writers)
        got = 0
        for r in RECIPIENTS:
            page = reader.fetch(r, after=cursor[r], limit=rng.randint(1, 40))
            got += len(page)
            for entry in page:
                assert entry.cursor > cursor[r]
                seen[r].append(entry.delivery.delivery_id)
                cursor[r] = entry.cursor
            if page and rng.random() < 0.5:
                acked_count += reader.ack(r, cursor[r], NOW)
        if not writing and got == 0:
            break
        assert time.monotonic() < deadline, "writers did not finish in time"
    for w in writers:
        w.join()
    assert errors == []
    for r in RECIPIENTS:
        acked_count += reader.ack(r, cursor[r], NOW)
    expected = {r: {d.delivery_id for d in written if d.recipient == r} for r in RECIPIENTS}
    for r in RECIPIENTS:
        assert len(seen[r]) == len(set(seen[r])), f"{r}: a delivery was handed out twice"
        missed = expected[r] - set(seen[r])
        assert not missed, f"{r}: the reader never saw {len(missed)} of {len(expected[r])}"
        assert reader.pending(r) == 0
    items = InboxItem.__table__  # type: ignore[attr-defined]
    with migrated_engine.connect() as conn:
        acked = set(
            conn.execute(select(items.c.delivery_id).where(items.c.acked_at.is_not(None))).scalars()
        )
    assert acked == set().union(*(set(s) for s in seen.values()))
    assert acked_count == len(acked) == WRITERS * BATCHES * BATCH_SIZE


@pytest.mark.parametrize("recipient", ["parking"])
def test_cursors_are_per_recipient_and_a_replay_gets_a_new_one(
    migrated_engine: Engine, recipient: str
) -> None:
    store = InboxStore(migrated_engine)
    assert store.add([_delivery("e1", recipient), _delivery("e1", "waste")], NOW) == 2
    assert store.add([_delivery("e2", recipient), _delivery("e1", recipient)], NOW) == 1
    first = store.fetch(recipient, after=0, limit=10)
    assert [(e.cursor, e.delivery.event_id) for e in first] == [(1, "e1"), (2, "e2")]
    assert [(e.cursor, e.delivery.event_id) for e in store.fetch("waste", 0, 10)] == [(1, "e1")]
    # a replay shows the delivery again, after what the reader has already been given
    assert store.add([_delivery("e1", recipient, Mode.REPLAY)], NOW) == 1
    again = store.fetch(recipient, after=2, limit=10)
    assert [(e.cursor, e.delivery.event_id, e.delivery.mode) for e in again] == [
        (3, "e1", Mode.REPLAY)
    ]
    assert [e.cursor for e in store.fetch(recipient, after=0, limit=10)] == [2, 3]


def test_a_read_from_a_cursor_never_handed_out_is_refused_and_allows_no_acknowledging(
    migrated_engine: Engine,
) -> None:
    store = InboxStore(migrated_engine)
    store.add([_delivery(f"e{i}", "parking") for i in range(4)], NOW)
    with pytest.raises(CursorNeverGiven):  # it would have passed over 1 and 2
        store.fetch("parking", after=2, limit=10)
    assert store.handed_out("parking") == 0
    with pytest.raises(AckBeyondHandedOut):
        store.ack("parking", 4, NOW)
    assert [e.cursor for e in store.fetch("parking", after=0, limit=1)] == [1]
    assert [e.cursor for e in store.fetch("parking", after=1, limit=10)] == [2, 3, 4]
    assert store.handed_out("parking") == 4
    assert store.ack("parking", 4, NOW) == 4
    assert store.handed_out("waste") == 0


def _alembic(engine: Engine, action: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def _rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


def test_upgrades_keep_order_and_a_stale_cursor_is_refused_until_read_from_zero(
    migrated_engine: Engine,
) -> None:
    _alembic(migrated_engine, "downgrade", "0007")
    old = [
        _delivery("e1", "parking"),
        _delivery("e1", "waste"),
        _delivery("e2", "parking"),
        _delivery("e3", "parking"),
    ]
    with migrated_engine.begin() as conn:
        for d in old:
            conn.execute(
                text(
                    "INSERT INTO inbox_item (delivery_id, recipient, event_id, payload, created_at)"
                    " VALUES (:i, :r, :e, :p, :t)"
                ),
                {
                    "i": d.delivery_id,
                    "r": d.recipient,
                    "e": d.event_id,
                    "p": d.model_dump_json(),
                    "t": NOW,
                },
            )
        conn.execute(text("UPDATE inbox_item SET acked_at = :t WHERE seq = 4"), {"t": NOW})
    # 0008 kept the hub-wide seq as each row's cursor and started every counter above it
    _alembic(migrated_engine, "upgrade", "0016")
    assert _rows(migrated_engine, "SELECT recipient, cursor FROM inbox_item ORDER BY seq") == [
        ("parking", 1),
        ("waste", 2),
        ("parking", 3),
        ("parking", 4),
    ]
    assert _rows(migrated_engine, "SELECT * FROM inbox_cursor ORDER BY 1") == [
        ("parking", 4),
        ("waste", 4),
    ]
    # life under 0016: waste got e9 (5) and e10 (6), its reader was handed up to 5; libraries
    # got its first (1) and read it
    with migrated_engine.begin() as conn:
        for d, cursor in ((_delivery("e9", "waste"), 5), (_delivery("e10", "waste"), 6)):
            conn.execute(
                text(
                    "INSERT INTO inbox_item (delivery_id, recipient, cursor, event_id, payload, "
                    "created_at) VALUES (:i, :r, :c, :e, :p, :t)"
                ),
                {
                    "i": d.delivery_id,
                    "r": d.recipient,
                    "c": cursor,
                    "e": d.event_id,
                    "p": d.model_dump_json(),
                    "t": NOW,
                },
            )
        conn.execute(text("UPDATE inbox_cursor SET last_cursor = 6 WHERE recipient = 'waste'"))
        conn.execute(text("UPDATE inbox_reader SET handed_out = 5 WHERE recipient = 'waste'"))
    lib = _delivery("e9", "libraries")
    with migrated_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO inbox_item (delivery_id, recipient, cursor, event_id, payload, "
                "created_at) VALUES (:i, 'libraries', 1, 'e9', :p, :t)"
            ),
            {"i": lib.delivery_id, "p": lib.model_dump_json(), "t": NOW},
        )
        conn.execute(text("INSERT INTO inbox_cursor VALUES ('libraries', 1)"))
        conn.execute(text("INSERT INTO inbox_reader VALUES ('libraries', 1, :t)"), {"t": NOW})

    # 0018: each recipient's cursors renumbered 1, 2, 3... in order; a stale cursor is refused
    # until the client reads once from 0 (nothing skipped, nothing acknowledged by mistake)
    _alembic(migrated_engine, "upgrade", "head")
    store = InboxStore(migrated_engine)
    with pytest.raises(CursorsRenumbered, match="read once from after=0"):
        store.fetch("waste", 5, 10)
    with pytest.raises(CursorsRenumbered):
        store.ack("waste", 2, NOW)
    assert store.handed_out("waste") == 2  # up to e9, as before (5 then)
    assert [(e.cursor, e.delivery.event_id) for e in store.fetch("waste", 0, 10)] == [
        (1, "e1"),
        (2, "e9"),
        (3, "e10"),
    ]
    assert store.handed_out("waste") == 3
    assert store.ack("waste", 2, NOW) == 2
    assert [e.cursor for e in store.fetch("waste", 2, 10)] == [3]
    store.add([_delivery("e11", "waste"), _delivery("e11", "libraries")], NOW)
    assert [e.cursor for e in store.fetch("waste", 3, 10)] == [4]
    # libraries' cursors were dense already: its client's cursor still works
    assert [e.cursor for e in store.fetch("libraries", 1, 10)] == [2]
    assert store.ack("libraries", 2, NOW) == 2
    parking = "SELECT cursor, event_id FROM inbox_item WHERE recipient = 'parking' ORDER BY 1"
    assert _rows(migrated_engine, parking) == [(1, "e1"), (2, "e2"), (3, "e3")]
    with pytest.raises(CursorsRenumbered):
        store.fetch("parking", 3, 10)  # never read since 0008, but a client may hold one
    assert [e.cursor for e in store.fetch("parking", 0, 10)] == [1, 2]  # 3 was acknowledged
    store.add([_delivery("e12", "parking")], NOW)
    assert [e.cursor for e in store.fetch("parking", 2, 10)] == [4]
