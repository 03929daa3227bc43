"""Synced records (per connection and model) and the state of each connection's syncs.

Revision ID: 0005
Revises: 0002
Create Date: 2025-05-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copies of the column types (migrations must not change when models.py does).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def _connection_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["connection_pk"],
        ["connections.id"],
        name=f"fk_{table}_connection_pk_connections",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "record_streams",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("connection_pk", ID, nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_modified_us", sa.BigInteger(), nullable=True),
        sa.Column("record_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_record_streams"),
        sa.UniqueConstraint("connection_pk", "model", name="uq_record_streams_connection_pk_model"),
        _connection_fk("record_streams"),
    )
    op.create_table(
        "records",
        sa.Column("stream_id", ID, nullable=False, autoincrement=False),
        sa.Column("external_id", sa.String(512), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("data_hash", sa.String(32), nullable=False),
        sa.Column("source_modified_us", sa.BigInteger(), nullable=True),
        sa.Column("first_seen_us", sa.BigInteger(), nullable=False),
        sa.Column("last_modified_us", sa.BigInteger(), nullable=False),
        sa.Column("last_action", sa.String(8), nullable=False),
        sa.Column("deleted_us", sa.BigInteger(), nullable=True),
        sa.Column("seen_run", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("stream_id", "external_id", name="pk_records"),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["record_streams.id"],
            name="fk_records_stream_id_record_streams",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_records_stream_id_last_modified_us_seq", "records", ["stream_id", "last_modified_us", "seq"]
    )
    op.create_table(
        "sync_states",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("connection_pk", ID, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("frequency", sa.String(64), nullable=False),
        sa.Column("frequency_seconds", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sync_type", sa.String(16), nullable=False),
        sa.Column("checkpoint", JSON, nullable=True),
        sa.Column("latest_result", JSON, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(128), nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("next_scheduled_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sync_states"),
        sa.UniqueConstraint("connection_pk", "name", name="uq_sync_states_connection_pk_name"),
        _connection_fk("sync_states"),
    )


def downgrade() -> None:
    op.drop_table("sync_states")
    op.drop_table("records")
    op.drop_table("record_streams")
