"""The pull inbox: deliveries held for a recipient until it acknowledges them.

Why a reader paging by cursor never skips a delivery, whatever the number of writers
-------------------------------------------------------------------------------------
A recipient reads `fetch(after=c)` and goes on from the last cursor it was given. That is only
safe if no delivery can ever become visible with a cursor at or below one the reader has
already passed. A hub-wide serial does not give that: transaction A takes 10, B takes 11, B
commits first, the reader sees 11 and moves past 10 before A commits.

So cursors are per recipient and taken in commit order. Each recipient has a counter row in
`inbox_cursor`; a writer takes its numbers with one UPSERT that increments the counter
(`last_cursor = last_cursor + n ... RETURNING last_cursor`) in the same transaction that
inserts the deliveries. Incrementing the row locks it until that transaction ends, so a
second writer for the same recipient blocks on the row and takes its numbers only after the
first has committed (or rolled back). Cursor order therefore equals commit order per
recipient: whenever a reader's snapshot shows cursor C, every cursor below C that will ever
exist for that recipient is already committed and in the same snapshot. On PostgreSQL this
holds because a committing transaction becomes visible to new snapshots before it releases
its row locks; on SQLite writers are serialized by the database write lock, with the same
effect. Writers lock the counter rows of a batch's recipients in one statement, in sorted
recipient order, so two writers never deadlock on them.

Gaps are harmless, repeats are impossible: a reader only asks for cursors greater than its
own. Gaps come from a replay (its old row is deleted, the delivery comes back with a new
cursor above everything handed out so far) and from a rare race where two writers insert
the same delivery id at once (the loser's number is skipped). A redelivered batch does not
take numbers for deliveries already stored: they are looked up first.

What may be acknowledged
------------------------
`inbox_reader.handed_out` = H per recipient means: every unacknowledged delivery with
cursor <= H has been returned by `fetch`. A fetch from `after <= H` that returns up to cursor
C raises H to C (it returned everything unacknowledged in (after, C], and (0, after] was
already handed out); a fetch from `after > H` (a cursor the hub never gave: from another hub,
or from before the database was restored from a backup) is refused, since paging on from it
would pass over the deliveries numbered up to it.
`ack(up_to > H)` is refused and acknowledges nothing. H lives in its own table so that a
reader never waits on a writer's lock on `inbox_cursor`.

A retention purge may delete acknowledged `inbox_item` rows; it must keep the `inbox_cursor`
and `inbox_reader` rows, or cursors would be reused below what readers already hold.

Renumbered cursors
------------------
Migration 0018 renumbered each recipient's rows 1, 2, 3... (rows from before 0008 had kept the
hub-wide sequence). A cursor a client held from before cannot be told from a new one, so the
recipient's reader row is marked `renumbered`: `fetch(after > 0)` and `ack` raise
`CursorsRenumbered` until the client fetches once from `after=0`, which clears the mark.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from hub.db.engine import copy_rows, sqlite_time_rows
from hub.db.tables import InboxCursor, InboxItem, InboxReader
from hub.errors import HubError, Problem
from hub.routing.messages import Delivery, Mode
from hub.timeutil import utcnow

log = structlog.get_logger("hub.inbox")

_TABLE = InboxItem.__table__  # type: ignore[attr-defined]
_COUNTERS = InboxCursor.__table__  # type: ignore[attr-defined]
_READERS = InboxReader.__table__  # type: ignore[attr-defined]

MAX_CURSOR = 2**63 - 1
"""Cursors are signed 64-bit integers in the database; nothing above this can be asked for."""


class BeyondHandedOut(HubError):
    """A cursor above the highest the recipient has been handed, given as `field`: the
    message says what was asked (`asked`), that highest cursor, and what to do (`todo`)."""

    field = ""
    asked = ""  # formatted with the cursor and the recipient
    todo = ""

    def __init__(self, recipient: str, cursor: int, handed_out: int) -> None:
        self.recipient = recipient
        self.cursor = cursor
        self.handed_out = handed_out
        asked = self.asked.format(cursor=cursor, recipient=recipient)
        super().__init__(
            f"{asked}: the highest cursor handed out to {recipient!r} is {handed_out}{self.todo}"
        )

    def problem(self) -> Problem:
        return Problem(self.field, "max_handed_out", f"at most {self.handed_out}")


class AckBeyondHandedOut(BeyondHandedOut):
    """An acknowledgement beyond the highest cursor the recipient has been handed."""

    code = "ack_beyond_handed_out"
    field = "up_to"
    asked = "cannot acknowledge up to cursor {cursor}"
    todo = (
        "; acknowledge up to the next_cursor of a page you have read (read on with "
        "?after=<next_cursor> first)"
    )


class CursorNeverGiven(BeyondHandedOut):
    """A read from a cursor above the highest the recipient has been handed: a cursor from
    another hub, or from before the hub's database was restored from a backup."""

    code = "cursor_never_given"
    field = "after"
    asked = "cursor {cursor} was never given to {recipient!r}"
    todo = (
        ". Reading on from it would pass over the deliveries numbered up to it (a cursor kept "
        "from another hub, or from before the hub's database was restored from a backup): read "
        "once from after=0 (only unacknowledged deliveries come back; de-duplicate on "
        "delivery_id), then go on from the next_cursor it gives"
    )


class CursorsRenumbered(HubError):
    """The recipient's cursors were renumbered (migration 0018): a cursor it holds is stale."""

    code = "cursors_renumbered"

    def __init__(self, recipient: str) -> None:
        self.recipient = recipient
        super().__init__(
            f"the inbox cursors of {recipient!r} were renumbered 1, 2, 3... when the hub was "
            "upgraded, so a cursor you hold from before may point elsewhere: read once from "
            "after=0 (only unacknowledged deliveries come back; de-duplicate on delivery_id), "
            "then go on from the next_cursor it gives"
        )


class StoredBefore(HubError):
    """Some deliveries of a batch handed over as new were in the inbox already (a redelivered
    batch): the caller rolls back and hands it over again, looked up first."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} of the batch's deliveries were stored before")
        self.count = count


class CursorTaken(HubError):
    """SQLite's insert skipped a delivery that is not in the inbox (its cursor was taken,
    although the counter was caught up first under the write lock): something other than the
    hub's numbering wrote inbox_item."""

    def __init__(self, recipient: str, count: int) -> None:
        super().__init__(
            f"something other than the hub wrote {recipient}'s inbox (inbox_item): {count} of "
            "this batch's deliveries were given cursors it already holds. Nothing of the batch "
            "was stored; it is handed over again"
        )
        self.recipient = recipient


class InboxEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    cursor: int
    delivery: Delivery


def _insert(conn: Connection, table: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def take_cursors(conn: Connection, counts: Mapping[str, int]) -> dict[str, int]:
    """Reserve `counts[r]` cursors for each recipient r; returns r's new last cursor.

    One statement; it locks each recipient's counter row until `conn`'s transaction ends, in
    sorted recipient order (the order of the VALUES rows), so concurrent writers queue per
    recipient in commit order and never deadlock on each other.

    The numbers always lie above every cursor the recipient's inbox holds and above what its
    reader has been handed out: a counter behind them (a database put back from copies taken
    at different times) would give numbers already taken, or numbers the reader has passed
    and would never read. Such a counter is caught up first, and `inbox_counter_caught_up`
    logged.
    """
    wanted = {r: n for r, n in counts.items() if n > 0}
    ins = _insert(conn, _COUNTERS).values(
        [{"recipient": r, "last_cursor": wanted[r]} for r in sorted(wanted)]
    )
    stmt = ins.on_conflict_do_update(
        index_elements=["recipient"],
        set_={"last_cursor": _COUNTERS.c.last_cursor + ins.excluded.last_cursor},
    ).returning(_COUNTERS.c.recipient, _COUNTERS.c.last_cursor)
    last = {str(r): int(n) for r, n in conn.execute(stmt).all()}
    for r, held, passed in conn.execute(_floors(sorted(wanted))).all():
        floor = max(held or 0, passed or 0)
        if last[r] - wanted[r] < floor:
            log.warning(
                "inbox_counter_caught_up", recipient=r, counter_was=last[r] - wanted[r], now=floor
            )
            last[r] = floor + wanted[r]
            conn.execute(
                update(_COUNTERS).where(_COUNTERS.c.recipient == r).values(last_cursor=last[r])
            )
    return last


def _floors(recipients: Sequence[str]) -> Any:
    """Per recipient: the largest cursor its inbox holds, and what its reader has been handed
    out (NULL: none). Each is an index look-up (`uq_inbox_item_recipient_cursor`, the reader's
    key), not a scan of the recipient's rows."""
    held = (
        select(func.max(_TABLE.c.cursor))
        .where(_TABLE.c.recipient == _COUNTERS.c.recipient)
        .scalar_subquery()
    )
    passed = (
        select(_READERS.c.handed_out)
        .where(_READERS.c.recipient == _COUNTERS.c.recipient)
        .scalar_subquery()
    )
    return select(_COUNTERS.c.recipient, held, passed).where(_COUNTERS.c.recipient.in_(recipients))


def _stored_as(deliveries: Iterable[Delivery]) -> Any:
    """Where these deliveries' rows are: searched by event id and delivery id (a delivery id
    belongs to one event). On SQLite the unique index leads with the event (revision 0020), so
    an event's deliveries share an index page; PostgreSQL searches by delivery id."""
    ds = list(deliveries)
    return _TABLE.c.event_id.in_(sorted({d.event_id for d in ds})) & _TABLE.c.delivery_id.in_(
        sorted({d.delivery_id for d in ds})
    )


_ADD_COLUMNS = ("delivery_id", "recipient", "cursor", "event_id", "payload", "created_at")
_SQLITE_ADD = (
    f"INSERT OR IGNORE INTO inbox_item ({', '.join(_ADD_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_ADD_COLUMNS))})"
)


_PG_SCRATCH = (
    "CREATE TEMP TABLE IF NOT EXISTS inbox_item_in ON COMMIT DELETE ROWS AS "
    f"SELECT {', '.join(_ADD_COLUMNS)} FROM inbox_item WITH NO DATA"
)
_PG_COPY = f"COPY inbox_item_in ({', '.join(_ADD_COLUMNS)}) FROM STDIN"
_PG_ADD = (
    f"INSERT INTO inbox_item ({', '.join(_ADD_COLUMNS)}) "
    f"SELECT {', '.join(_ADD_COLUMNS)} FROM inbox_item_in ON CONFLICT (delivery_id) DO NOTHING"
)


def _stored_ids(conn: Connection, deliveries: Iterable[Delivery]) -> set[str]:
    """The delivery ids of these deliveries that the inbox holds."""
    return set(conn.execute(select(_TABLE.c.delivery_id).where(_stored_as(deliveries))).scalars())


def _check_skipped(conn: Connection, deliveries: Sequence[Delivery]) -> None:
    """After an insert that skipped rows: each skipped delivery must be in the inbox already
    (stored by another writer). `INSERT OR IGNORE` also skips a row whose cursor is taken,
    which would lose the delivery while its "delivered" entry is recorded: refused instead."""
    present = _stored_ids(conn, deliveries)
    missing = [d for d in deliveries if d.delivery_id not in present]
    if missing:
        raise CursorTaken(missing[0].recipient, len(missing))


class InboxStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, deliveries: Sequence[Delivery], at: datetime, payloads: Sequence[str] | None = None
    ) -> int:
        """Store a batch in one transaction; returns how many were stored.

        A delivery already in the inbox (same delivery id) is not stored twice and takes no
        cursor. A replay (`Mode.REPLAY`) shows the delivery again: its old row goes, and it
        comes back unacknowledged with a new cursor. `payloads`, when given, are the
        deliveries' JSON exactly as received (saves re-encoding).
        """
        texts = payloads if payloads is not None else [d.model_dump_json() for d in deliveries]
        batch: dict[str, tuple[Delivery, str]] = {}
        for d, text in zip(deliveries, texts, strict=True):
            batch.setdefault(d.delivery_id, (d, text))
        if not batch:
            return 0
        with self.engine.begin() as conn:
            return self.add_in(conn, batch, at)

    @staticmethod
    def add_in(
        conn: Connection,
        batch: Mapping[str, tuple[Delivery, str]],
        at: datetime,
        expect_new: bool = False,
    ) -> int:
        """`add` inside the caller's transaction: `batch` is delivery id -> (delivery, JSON).

        `expect_new` (SQLite): the caller expects none of them stored, so they are not looked
        up first (12 us an event at K=5); if the insert skipped any, `StoredBefore` is raised
        for the caller to roll back and call again without it (looked up, and each skipped
        delivery checked stored), so that no number is taken for one stored before."""
        replayed = [d for d, _ in batch.values() if d.mode is Mode.REPLAY]
        if replayed:
            # A replay shows the delivery again (a new cursor, unacknowledged), as the
            # policy in force now allows it; the recipient de-duplicates on delivery_id.
            conn.execute(delete(_TABLE).where(_stored_as(replayed)))
        optimistic = expect_new and conn.dialect.name == "sqlite"
        stored = set() if optimistic else _stored_ids(conn, (d for d, _ in batch.values()))
        fresh = [(d, text) for i, (d, text) in batch.items() if i not in stored]
        if not fresh:
            return 0
        counts = Counter(d.recipient for d, _ in fresh)
        last = take_cursors(conn, counts)
        position = {r: last[r] - n for r, n in counts.items()}
        rows = []
        for d, text in fresh:
            position[d.recipient] += 1
            rows.append((d.delivery_id, d.recipient, position[d.recipient], d.event_id, text, at))
        if conn.dialect.name == "sqlite":
            # one prepared executemany (no per-row SQL building); a row another writer stored
            # since the look-up above is ignored, and not counted (its cursor is left a gap)
            added = int(
                conn.exec_driver_sql(
                    _SQLITE_ADD, sqlite_time_rows(rows, (_ADD_COLUMNS.index("created_at"),))
                ).rowcount
            )
            if added < len(rows):
                if optimistic:  # rolled back and handed over again, looked up and checked then
                    raise StoredBefore(len(rows) - added)
                _check_skipped(conn, [d for d, _ in fresh])
            return added
        # PostgreSQL: COPY into a scratch table, then one INSERT ... SELECT that skips a row
        # another writer stored meanwhile (a third of a multi-row INSERT's time, under the
        # recipients' cursor locks)
        conn.exec_driver_sql(_PG_SCRATCH)
        copy_rows(conn, _PG_COPY, rows)
        return int(conn.exec_driver_sql(_PG_ADD).rowcount)

    def fetch(self, recipient: str, after: int, limit: int) -> list[InboxEntry]:
        """Unacknowledged deliveries for `recipient` with cursor > `after`, oldest first.

        What it returns counts as handed out: it may then be acknowledged (see `ack`). An
        `after` above what was handed out raises `CursorNeverGiven`: every cursor a reader is
        given is at most the handed-out mark, so such a cursor came from elsewhere.
        """
        stmt = (
            select(_TABLE.c.cursor, _TABLE.c.payload)
            .where(
                _TABLE.c.recipient == recipient,
                _TABLE.c.cursor > after,
                _TABLE.c.acked_at.is_(None),
            )
            .order_by(_TABLE.c.cursor)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            handed_out, renumbered = self._reader(conn, recipient)
            if renumbered:
                if after > 0:
                    raise CursorsRenumbered(recipient)
                conn.execute(
                    update(_READERS)
                    .where(_READERS.c.recipient == recipient)
                    .values(renumbered=False)
                )
            if after > handed_out:
                raise CursorNeverGiven(recipient, after, handed_out)
            rows = conn.execute(stmt).all()
            if rows and after <= handed_out < rows[-1][0]:
                self._hand_out(conn, recipient, after, int(rows[-1][0]))
            conn.commit()
        return [
            InboxEntry(cursor=c, delivery=Delivery.model_validate_json(payload))
            for c, payload in rows
        ]

    def handed_out(self, recipient: str) -> int:
        """The highest cursor up to which `recipient` has been handed every delivery (0: none)."""
        with self.engine.connect() as conn:
            return self._handed_out(conn, recipient)

    def ack(self, recipient: str, up_to: int, at: datetime) -> int:
        """Acknowledge every delivery of `recipient` with cursor <= `up_to`. Returns how many.

        Raises `AckBeyondHandedOut` (and acknowledges nothing) when `up_to` is above what
        `recipient` has been handed out, `CursorsRenumbered` when its cursors were renumbered
        and it has not read from after=0 since.
        """
        stmt = (
            update(_TABLE)
            .where(
                _TABLE.c.recipient == recipient,
                _TABLE.c.cursor <= up_to,
                _TABLE.c.acked_at.is_(None),
            )
            .values(acked_at=at)
        )
        with self.engine.begin() as conn:
            handed_out, renumbered = self._reader(conn, recipient)
            if renumbered:
                raise CursorsRenumbered(recipient)
            if up_to > handed_out:
                raise AckBeyondHandedOut(recipient, up_to, handed_out)
            return int(conn.execute(stmt).rowcount or 0)

    def purge_acknowledged(self, before: datetime, dry_run: bool = False) -> int:
        """Retention: erase the values of deliveries acknowledged before `before` (or with
        dry_run, count them). The row stays without its payload (delivery id, recipient, event
        id, times), so a redelivery of the same delivery is still recognised and not shown
        again; unacknowledged deliveries are never touched."""
        erasable = (
            _TABLE.c.acked_at.is_not(None) & (_TABLE.c.acked_at < before) & (_TABLE.c.payload != "")
        )
        with self.engine.begin() as conn:
            if dry_run:
                return int(conn.execute(select(func.count()).where(erasable)).scalar_one())
            return int(
                conn.execute(update(_TABLE).where(erasable).values(payload="")).rowcount or 0
            )

    def pending(self, recipient: str) -> int:
        stmt = select(func.count()).where(
            _TABLE.c.recipient == recipient, _TABLE.c.acked_at.is_(None)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    @staticmethod
    def _reader(conn: Connection, recipient: str) -> tuple[int, bool]:
        """What `recipient` has been handed out, and whether its cursors were renumbered."""
        row = conn.execute(
            select(_READERS.c.handed_out, _READERS.c.renumbered).where(
                _READERS.c.recipient == recipient
            )
        ).first()
        return (int(row[0]), bool(row[1])) if row is not None else (0, False)

    @staticmethod
    def _handed_out(conn: Connection, recipient: str) -> int:
        value = conn.execute(
            select(_READERS.c.handed_out).where(_READERS.c.recipient == recipient)
        ).scalar()
        return int(value or 0)

    @staticmethod
    def _hand_out(conn: Connection, recipient: str, after: int, to: int) -> None:
        """Raise `recipient`'s handed-out cursor to `to`, if a page read from `after` may."""
        now = utcnow()
        reader = _READERS.c
        grows = (reader.handed_out >= after) & (reader.handed_out < to)
        if after == 0:
            ins = _insert(conn, _READERS).values(recipient=recipient, handed_out=to, read_at=now)
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=["recipient"],
                    set_={"handed_out": to, "read_at": now},
                    where=grows,
                )
            )
        else:
            conn.execute(
                update(_READERS)
                .where(reader.recipient == recipient, grows)
                .values(handed_out=to, read_at=now)
            )
