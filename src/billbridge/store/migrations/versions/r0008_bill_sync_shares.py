"""What each organization's syncs spent of a developer key's hourly budget, for fair shares
between organizations across every process on the database.

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bill_sync_shares",
        sa.Column("key_digest", sa.String(64), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("spent", sa.Integer(), nullable=False),
        sa.Column("last_spent", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key_digest", "hour", "organization_id", name="pk_bill_sync_shares"),
    )


def downgrade() -> None:
    op.drop_table("bill_sync_shares")
