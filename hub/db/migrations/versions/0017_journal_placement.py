"""Where the broker put each journaled event (topic partition and offset, from its ack).

The reconciler compares them with the router's committed offsets: an event still waiting in
the topic behind the router is not lost and is not re-published (it would be routed twice).

Revision ID: 0017 (revises 0016)
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_journal") as batch:
        batch.add_column(sa.Column("kafka_partition", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("kafka_offset", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingest_journal") as batch:
        batch.drop_column("kafka_offset")
        batch.drop_column("kafka_partition")
