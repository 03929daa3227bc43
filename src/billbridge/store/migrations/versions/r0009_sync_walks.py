"""Where each walk of a running sync stands, saved with every page it stores.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sync_walks",
        sa.Column("walk_id", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("connection_pk", ID, nullable=False),
        sa.Column("position", sa.Text(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("walk_id", name="pk_sync_walks"),
        sa.ForeignKeyConstraint(
            ["connection_pk"],
            ["connections.id"],
            name="fk_sync_walks_connection_pk_connections",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("sync_walks")
