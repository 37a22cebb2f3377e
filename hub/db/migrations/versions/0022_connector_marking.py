"""The outbox batch a connector is marking in the source system's database.

An outbox connector marks its rows in the source's database and keeps its counts in the hub's;
no transaction spans the two. Before marking, it writes here what the batch published and
rejected; once the mark committed, it adds those counts and clears this. A connector that died
in between settles it when it starts again: the batch is counted if the source marked it, and
forgotten if not (it will be read, published and counted again).

Revision ID: 0022 (revises 0021)
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connector_state") as batch:
        batch.add_column(sa.Column("marking", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connector_state") as batch:
        batch.drop_column("marking")
