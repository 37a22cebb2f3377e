"""Rejected events: one row a record, told apart by its position and its content (SQLite).

The unique key was the record's position alone (original topic, partition and offset), so that a
redelivered batch is kept once. The embedded broker keeps its topics in memory and begins its
offsets again after a restart: a record rejected then, at a position an earlier rejected record
had, was skipped as if it were that one, and never listed to be fixed and replayed.

Every database gains `record_sha256` (its topic, key, value and headers as stored), filled in
here for the rows stored before. On SQLite, the embedded broker's database, the key becomes the
position and the content. PostgreSQL keeps the position's key for now: a rolling deploy runs the
earlier code beside the migrated database, and its `ON CONFLICT` names that key (with Apache
Kafka, offsets never begin again). The downgrade keeps the first row of each position.

Revision ID: 0023 (revises 0022)
"""

import sqlalchemy as sa
from alembic import op

from hub.rejected.store import record_sha256

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

TABLE = "rejected_event"
POSITION = ["original_topic", "original_partition", "original_offset"]
NEW = "uq_rejected_event_record"
OLD_SQLITE = "uq_rejected_event_position"  # the unnamed constraint of 0002, named to drop it
_SQLITE_NAMES = {"uq": "uq_rejected_event_position"}


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column(
        TABLE, sa.Column("record_sha256", sa.String(64), nullable=False, server_default="")
    )
    table = sa.table(
        TABLE,
        sa.column("seq", sa.Integer()),
        sa.column("original_topic", sa.String()),
        sa.column("key", sa.LargeBinary()),
        sa.column("value", sa.LargeBinary()),
        sa.column("headers", sa.Text()),
        sa.column("record_sha256", sa.String()),
    )
    last = -1
    while True:  # a thousand rows at a time: each holds a whole record
        rows = bind.execute(
            sa.select(
                table.c.seq, table.c.original_topic, table.c.key, table.c.value, table.c.headers
            )
            .where(table.c.seq > last)
            .order_by(table.c.seq)
            .limit(1000)
        ).all()
        if not rows:
            break
        bind.execute(
            table.update().where(table.c.seq == sa.bindparam("b_seq")),
            [
                {"b_seq": seq, "record_sha256": record_sha256(topic, key, value, headers)}
                for seq, topic, key, value, headers in rows
            ],
        )
        last = rows[-1][0]
    if bind.dialect.name == "postgresql":
        return
    with op.batch_alter_table(TABLE, recreate="always", naming_convention=_SQLITE_NAMES) as batch:
        batch.drop_constraint(OLD_SQLITE, type_="unique")
        batch.create_unique_constraint(NEW, [*POSITION, "record_sha256"])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_column(TABLE, "record_sha256")
        return
    table = sa.table(TABLE, *(sa.column(c) for c in ("seq", *POSITION)))
    first = (
        sa.select(sa.func.min(table.c.seq))
        .group_by(*(table.c[c] for c in POSITION))
        .scalar_subquery()
    )
    bind.execute(table.delete().where(table.c.seq.not_in(first)))
    with op.batch_alter_table(TABLE, recreate="always") as batch:
        batch.drop_constraint(NEW, type_="unique")
        batch.create_unique_constraint(OLD_SQLITE, POSITION)
        batch.drop_column("record_sha256")
