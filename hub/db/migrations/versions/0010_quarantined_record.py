"""Quarantine: records on internal topics that the hub did not sign, refused and kept whole.

Revision ID: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quarantined_record",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False, index=True),
        sa.Column("record_partition", sa.Integer(), nullable=False),
        sa.Column("record_offset", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
    )


def downgrade() -> None:
    op.drop_table("quarantined_record")
