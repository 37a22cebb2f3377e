"""Pull inbox: per-recipient cursors taken in commit order, and the cursor handed out per reader.

`inbox_item.cursor` replaces the hub-wide `seq` as the position a recipient pages by (see
hub/inbox/store.py for why it is gap-free under concurrent writers). Existing rows keep their
old `seq` as their cursor: it is already unique and increasing per recipient, so a client that
holds a `next_cursor` from before the upgrade reads on without skipping or repeating anything.
Each recipient's counter starts at the highest `seq` in the table, so every new cursor is
above every cursor handed out before. Deliveries stored before the upgrade count as handed out
(the old API did not record it), so a client's next acknowledgement is accepted as before.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_cursor",
        sa.Column("recipient", sa.String(64), primary_key=True),
        sa.Column("last_cursor", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "inbox_reader",
        sa.Column("recipient", sa.String(64), primary_key=True),
        sa.Column("handed_out", sa.BigInteger(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("inbox_item") as batch:
        batch.add_column(sa.Column("cursor", sa.BigInteger(), nullable=True))
    op.execute("UPDATE inbox_item SET cursor = seq")
    op.execute(
        "INSERT INTO inbox_cursor (recipient, last_cursor) "
        "SELECT DISTINCT recipient, (SELECT MAX(seq) FROM inbox_item) FROM inbox_item"
    )
    op.execute(
        "INSERT INTO inbox_reader (recipient, handed_out, read_at) "
        "SELECT recipient, last_cursor, CURRENT_TIMESTAMP FROM inbox_cursor"
    )
    with op.batch_alter_table("inbox_item") as batch:
        batch.alter_column("cursor", existing_type=sa.BigInteger(), nullable=False)
        batch.create_unique_constraint("uq_inbox_item_recipient_cursor", ["recipient", "cursor"])


def downgrade() -> None:
    with op.batch_alter_table("inbox_item") as batch:
        batch.drop_constraint("uq_inbox_item_recipient_cursor", type_="unique")
        batch.drop_column("cursor")
    op.drop_table("inbox_reader")
    op.drop_table("inbox_cursor")
