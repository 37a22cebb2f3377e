"""Inbox rows: the index on recipient alone is dropped.

UNIQUE (recipient, cursor) leads with the recipient and answers every look-up the index on
recipient alone answered: a recipient's page (recipient, cursor > after, unacknowledged, in
cursor order), its acknowledgement (cursor <= up to), its waiting count and its last cursor.
Keeping both cost the hand-over one more index insert for every delivery it stores, for no
query. Both databases; the downgrade makes the index again. Either step does nothing where
the index is already as it wants it (an operator may have dropped it by hand).

Revision ID: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

TABLE = "inbox_item"
INDEX = "ix_inbox_item_recipient"


def _has_index() -> bool:
    return any(i["name"] == INDEX for i in sa.inspect(op.get_bind()).get_indexes(TABLE))


def upgrade() -> None:
    if _has_index():  # a database whose operator dropped it already needs nothing
        op.drop_index(INDEX, table_name=TABLE)


def downgrade() -> None:
    if not _has_index():
        op.create_index(INDEX, TABLE, ["recipient"])
