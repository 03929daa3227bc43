"""Connect session links: which connections each connect session has linked.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copies of the column types (migrations must not change when models.py does).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "connect_session_links",
        sa.Column("connect_session_pk", ID, nullable=False, autoincrement=False),
        sa.Column("connection_pk", ID, nullable=False, autoincrement=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("connect_session_pk", "connection_pk", name="pk_connect_session_links"),
        sa.ForeignKeyConstraint(
            ["connect_session_pk"],
            ["connect_sessions.id"],
            name="fk_connect_session_links_connect_session_pk_connect_sessions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["connection_pk"],
            ["connections.id"],
            name="fk_connect_session_links_connection_pk_connections",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_connect_session_links_connection_pk", "connect_session_links", ["connection_pk"])


def downgrade() -> None:
    op.drop_table("connect_session_links")
