"""Audit hash chain and IG workbench (issue 6; filled in by its author).

Revision ID: 0005
"""

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
