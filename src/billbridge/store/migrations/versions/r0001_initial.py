"""Initial schema: api_keys, connect_sessions, connections, operations.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types (migrations must not change when models.py does).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", ID, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        _id(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_enc", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("kind", name="uq_api_keys_kind"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "connect_sessions",
        _id(),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("end_user", JSON, nullable=True),
        sa.Column("organization", JSON, nullable=True),
        sa.Column("allowed_integrations", JSON, nullable=True),
        sa.Column("integrations_config_defaults", JSON, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("webhook_url_override", sa.Text(), nullable=True),
        sa.Column("reconnect_connection_id", sa.String(255), nullable=True),
        sa.Column("reconnect_provider_config_key", sa.String(255), nullable=True),
        sa.Column("mfa_required", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_connect_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_connect_sessions_token_hash"),
    )
    op.create_index("ix_connect_sessions_expires_at", "connect_sessions", ["expires_at"])
    op.create_table(
        "connections",
        _id(),
        sa.Column("connection_id", sa.String(255), nullable=False),
        sa.Column("provider_config_key", sa.String(255), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("end_user", JSON, nullable=True),
        sa.Column("end_user_id", sa.String(255), nullable=True),
        sa.Column("end_user_organization_id", sa.String(255), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("connection_config", JSON, nullable=False),
        sa.Column("webhook_url_override", sa.Text(), nullable=True),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("device", sa.String(255), nullable=True),
        sa.Column("password_enc", sa.Text(), nullable=False),
        sa.Column("dev_key_enc", sa.Text(), nullable=False),
        sa.Column("api_token_enc", sa.Text(), nullable=True),
        sa.Column("remember_me_id_enc", sa.Text(), nullable=True),
        sa.Column("session_id_enc", sa.Text(), nullable=True),
        sa.Column("session_user_id", sa.String(64), nullable=True),
        sa.Column("session_trusted", sa.Boolean(), nullable=False),
        sa.Column("session_started_at", TS, nullable=True),
        sa.Column("session_last_used_at", TS, nullable=True),
        sa.Column("session_generation", sa.BigInteger(), nullable=False),
        sa.Column("session_raw", JSON, nullable=False),
        sa.Column("login_failures", sa.Integer(), nullable=False),
        sa.Column("cooldown_until", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("last_fetched_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_connections"),
        sa.UniqueConstraint(
            "connection_id", "provider_config_key", name="uq_connections_connection_id_provider_config_key"
        ),
    )
    op.create_index("ix_connections_created_at_id", "connections", ["created_at", "id"])
    op.create_index("ix_connections_provider_config_key", "connections", ["provider_config_key"])
    op.create_index("ix_connections_end_user_id", "connections", ["end_user_id"])
    op.create_index("ix_connections_end_user_organization_id", "connections", ["end_user_organization_id"])
    op.create_table(
        "operations",
        _id(),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("connection_id", sa.String(255), nullable=True),
        sa.Column("provider_config_key", sa.String(255), nullable=True),
        sa.Column("detail", JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_operations"),
    )
    op.create_index("ix_operations_kind", "operations", ["kind"])
    op.create_index("ix_operations_created_at", "operations", ["created_at"])
    op.create_index(
        "ix_operations_connection_id_provider_config_key_created_at",
        "operations",
        ["connection_id", "provider_config_key", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("operations")
    op.drop_table("connections")
    op.drop_table("connect_sessions")
    op.drop_table("api_keys")
