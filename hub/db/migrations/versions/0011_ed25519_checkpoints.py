"""Audit checkpoints signed with Ed25519 (a wider signature column).

The column holds `ed25519:<key id>:<base64>` (113 characters), wider than the 64 hex digits of
the old HMAC signatures.

Revision ID: 0011 (revises 0010)
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_checkpoint") as batch:
        batch.alter_column(
            "signature", existing_type=sa.String(64), type_=sa.String(200), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_checkpoint") as batch:
        batch.alter_column(
            "signature", existing_type=sa.String(200), type_=sa.String(64), existing_nullable=False
        )
