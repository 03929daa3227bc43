"""BILL's hourly budgets per developer key, shared by every process on the database.

Revision ID: 0003
Revises: 0004
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bill_budgets",
        sa.Column("key_digest", sa.String(64), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("logins", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_digest", "hour", name="pk_bill_budgets"),
    )


def downgrade() -> None:
    op.drop_table("bill_budgets")
