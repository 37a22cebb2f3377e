"""On SQLite, inbox rows are unique per (event id, delivery id), keyed by event first (revision
0020); PostgreSQL keeps UNIQUE (delivery_id), which a rolling deploy's earlier code needs. On
both, a delivery stored twice is refused (and a redelivered batch takes no second cursor), and
an inbox written before the change upgrades (and downgrades) with every row intact, read by a
recipient paging as before."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from hub.db.engine import downgrade, make_engine, migrate
from hub.inbox.store import _TABLE as INBOX
from hub.inbox.store import InboxStore
from hub.routing.messages import Mode
from tests.integration.test_audit_entry_index import url  # noqa: F401  (the fixture)
from tests.integration.test_inbox_delivered import NOW, delivery


def stored(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(INBOX).order_by(INBOX.c.seq))]


def unique_keys(engine: Engine) -> set[tuple[str, ...]]:
    """Column lists the database keeps unique on inbox_item (constraints and indexes)."""
    found = inspect(engine)
    keys = {tuple(u["column_names"]) for u in found.get_unique_constraints("inbox_item")}
    keys |= {
        tuple(str(c) for c in i["column_names"])
        for i in found.get_indexes("inbox_item")
        if i["unique"]
    }
    return keys


def keyed_as_at_head(engine: Engine) -> bool:
    keys = unique_keys(engine)
    if engine.dialect.name == "sqlite":  # no index keyed by a hash alone
        return ("event_id", "delivery_id") in keys and ("delivery_id",) not in keys
    return ("delivery_id",) in keys and ("event_id", "delivery_id") not in keys


def batch(events: range, recipients: tuple[str, ...] = ("waste", "parking")) -> list:
    return [delivery(f"e-{i}", r) for i in events for r in recipients]


def cursors(store: InboxStore, recipient: str) -> list[tuple[int, str]]:
    return [(e.cursor, e.delivery.event_id) for e in store.fetch(recipient, 0, 1000)]


def test_deliveries_are_unique_per_event_and_one_stored_twice_is_refused(url: str) -> None:  # noqa: F811
    engine = make_engine(url)
    try:
        migrate(engine)
        assert keyed_as_at_head(engine)
        store = InboxStore(engine)
        assert store.add(batch(range(10)), NOW) == 20
        # a redelivered batch, partly new: only the new rows are stored, and take cursors
        assert store.add(batch(range(8, 13)), NOW + timedelta(seconds=1)) == 6
        assert [c for c, _ in cursors(store, "waste")] == list(range(1, 14))
        with engine.connect() as conn:
            first = dict(conn.execute(select(INBOX).limit(1)).mappings().one())
        with pytest.raises(IntegrityError), engine.begin() as conn:  # the database refuses it
            conn.execute(insert(INBOX), [first | {"seq": 999, "cursor": 999}])
        # a replay shows a delivery again, with a new cursor, once
        replay = [delivery("e-3", "waste").model_copy(update={"mode": Mode.REPLAY})]
        assert store.add(replay, NOW + timedelta(seconds=2)) == 1
        waste = cursors(store, "waste")
        assert [e for _, e in waste].count("e-3") == 1 and waste[-1] == (14, "e-3")
    finally:
        engine.dispose()


def test_an_inbox_written_before_upgrades_and_downgrades_intact(url: str) -> None:  # noqa: F811
    engine = make_engine(url)
    try:
        migrate(engine, "0019")
        assert ("delivery_id",) in unique_keys(engine)
        store = InboxStore(engine)
        assert store.add(batch(range(15)), NOW) == 30
        store.fetch("waste", 0, 5)
        assert store.ack("waste", 5, NOW) == 5
        before = stored(engine)

        migrate(engine)
        assert keyed_as_at_head(engine)
        assert stored(engine) == before  # every row, cursor and acknowledgement as it was
        assert store.add(batch(range(12, 20)), NOW) == 10
        assert [c for c, _ in cursors(store, "waste")] == list(range(6, 21))

        downgrade(engine, "0019")
        assert ("delivery_id",) in unique_keys(engine)
        assert store.add(batch(range(18, 22)), NOW) == 4
        assert stored(engine)[:30] == before

        migrate(engine)  # and up again from the downgrade's own unique index
        assert keyed_as_at_head(engine)
        assert store.add(batch(range(20, 24)), NOW) == 4
        assert [c for c, _ in cursors(store, "parking")] == list(range(1, 25))
    finally:
        engine.dispose()
