"""SQLAlchemy tables. Columns ending in ``_enc`` hold keyring tokens, never plaintext."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from billbridge.store.sqltypes import JSONType, UTCDateTime

# Deterministic constraint names, so later migrations can refer to them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL; SQLite needs exactly INTEGER for an auto-incrementing rowid key.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType}


class ApiKeyRow(Base):
    """API keys by kind ("secret"): the SHA-256 hash, and optionally a keyring token for signing."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_enc: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class ConnectSessionRow(Base):
    __tablename__ = "connect_sessions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    end_user: Mapped[dict[str, Any] | None]
    organization: Mapped[dict[str, Any] | None]
    allowed_integrations: Mapped[list[str] | None] = mapped_column(JSONType)
    integrations_config_defaults: Mapped[dict[str, Any]]
    tags: Mapped[dict[str, Any]]
    webhook_url_override: Mapped[str | None] = mapped_column(Text)
    reconnect_connection_id: Mapped[str | None] = mapped_column(String(255))
    reconnect_provider_config_key: Mapped[str | None] = mapped_column(String(255))
    mfa_required: Mapped[bool] = mapped_column(Boolean)
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ConnectionRow(Base):
    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint("connection_id", "provider_config_key"),
        Index(None, "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(String(255))
    provider_config_key: Mapped[str] = mapped_column(String(255), index=True)
    environment: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    end_user: Mapped[dict[str, Any] | None]
    # Copies of end_user fields for the list filters; search_text is casefolded for `search`.
    end_user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    end_user_organization_id: Mapped[str | None] = mapped_column(String(255), index=True)
    search_text: Mapped[str] = mapped_column(Text)
    tags: Mapped[dict[str, Any]]
    # "metadata" is reserved on declarative classes; the column keeps the contract's name.
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType)
    connection_config: Mapped[dict[str, Any]]
    webhook_url_override: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str] = mapped_column(String(255))
    organization_id: Mapped[str] = mapped_column(String(64))
    device: Mapped[str | None] = mapped_column(String(255))
    password_enc: Mapped[str] = mapped_column(Text)
    dev_key_enc: Mapped[str] = mapped_column(Text)
    api_token_enc: Mapped[str | None] = mapped_column(Text)
    remember_me_id_enc: Mapped[str | None] = mapped_column(Text)
    session_id_enc: Mapped[str | None] = mapped_column(Text)
    session_user_id: Mapped[str | None] = mapped_column(String(64))
    session_trusted: Mapped[bool] = mapped_column(Boolean)
    session_started_at: Mapped[datetime | None]
    session_last_used_at: Mapped[datetime | None]
    session_generation: Mapped[int] = mapped_column(BigInteger)
    session_raw: Mapped[dict[str, Any]]
    login_failures: Mapped[int] = mapped_column(Integer)
    cooldown_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_fetched_at: Mapped[datetime | None]


class ConnectSessionLinkRow(Base):
    """A connection a connect session has linked: what lets its token run MFA on that connection.

    Both keys cascade, so a deleted session or connection leaves no link behind (and a SQLite
    rowid reused by a later connection never inherits one).
    """

    __tablename__ = "connect_session_links"

    connect_session_pk: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("connect_sessions.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    connection_pk: Mapped[int] = mapped_column(
        BigIntId,
        ForeignKey("connections.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
        index=True,
    )
    created_at: Mapped[datetime]


class OperationRow(Base):
    __tablename__ = "operations"
    __table_args__ = (Index(None, "connection_id", "provider_config_key", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(64))
    connection_id: Mapped[str | None] = mapped_column(String(255))
    provider_config_key: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(index=True)


class RecordStreamRow(Base):
    """One (connection, model) of synced records: its change counter and record count.

    Every page of records written to a stream first locks this row, so on PostgreSQL the changes of
    one stream commit in the order of their ``seq`` numbers (what makes the records cursor exact).
    """

    __tablename__ = "record_streams"
    __table_args__ = (UniqueConstraint("connection_pk", "model"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    connection_pk: Mapped[int] = mapped_column(BigIntId, ForeignKey("connections.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(255))
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_modified_us: Mapped[int | None] = mapped_column(BigInteger)
    record_count: Mapped[int] = mapped_column(BigInteger)


class RecordRow(Base):
    """One synced record: its payload (JSON text, keys sorted) and Nango's metadata.

    ``seq`` grows with every change inside the stream and ``last_modified_us`` never decreases
    with it, so (last_modified_us, seq) orders records by last change and is the records cursor.
    Instants are integer microseconds since the epoch (``sqltypes.to_micros``): millions of rows
    move through this table, and integers need no conversion on either database.
    """

    __tablename__ = "records"
    __table_args__ = (Index(None, "stream_id", "last_modified_us", "seq"),)

    stream_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("record_streams.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    external_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)
    data_hash: Mapped[str] = mapped_column(String(32))
    source_modified_us: Mapped[int | None] = mapped_column(BigInteger)
    first_seen_us: Mapped[int] = mapped_column(BigInteger)
    last_modified_us: Mapped[int] = mapped_column(BigInteger)
    last_action: Mapped[str] = mapped_column(String(8))
    deleted_us: Mapped[int | None] = mapped_column(BigInteger)
    seen_run: Mapped[str | None] = mapped_column(String(128))


class SyncWalkRow(Base):
    """Where one walk of a sync run stands: the position after its last stored page.

    Written in the transaction of every page the walk stores, so a run resumed after a crash
    starts after the last stored page even when the step that stored it was not recorded yet
    (``store/walks.py``). Deleted when the run ends.
    """

    __tablename__ = "sync_walks"

    walk_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(128))
    connection_pk: Mapped[int] = mapped_column(BigIntId, ForeignKey("connections.id", ondelete="CASCADE"))
    position: Mapped[str] = mapped_column(Text)
    updated_us: Mapped[int] = mapped_column(BigInteger)


class SyncStateRow(Base):
    """The state of one sync (name) of one connection: schedule, last run, checkpoint."""

    __tablename__ = "sync_states"
    __table_args__ = (UniqueConstraint("connection_pk", "name"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    connection_pk: Mapped[int] = mapped_column(BigIntId, ForeignKey("connections.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(255))
    frequency: Mapped[str] = mapped_column(String(64))
    frequency_seconds: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    sync_type: Mapped[str] = mapped_column(String(16))
    checkpoint: Mapped[dict[str, Any] | None]
    latest_result: Mapped[dict[str, Any] | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    next_scheduled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IdempotencyRow(Base):
    """The first answer to a proxied write sent with an ``Idempotency-Key``, replayed for 24 hours.

    One row per (connection, hashed key): ``pending`` while the first request runs (claimed at
    ``claimed_at``), then ``done`` with the answer encrypted in ``answer_enc``. Deleting the
    connection deletes its keys.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("connection_pk", "key_hash"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    connection_pk: Mapped[int] = mapped_column(BigIntId, ForeignKey("connections.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    status: Mapped[int | None] = mapped_column(Integer)
    answer_enc: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class BudgetRow(Base):
    """BILL's hourly budgets of one developer key (by digest, never the key), counted by every process."""

    __tablename__ = "bill_budgets"

    key_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Hours since the epoch (UTC): BILL's budgets return at the top of each hour.
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    requests: Mapped[int] = mapped_column(Integer)
    logins: Mapped[int] = mapped_column(Integer)


class SyncShareRow(Base):
    """What one organization's syncs spent of a developer key's hourly budget, for fair shares."""

    __tablename__ = "bill_sync_shares"

    key_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    organization_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    spent: Mapped[int] = mapped_column(Integer)
    # Seconds since the epoch of its last reservation: it counts as syncing for a while after.
    last_spent: Mapped[int] = mapped_column(BigInteger)


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class (for dialect-specific INSERT ... ON CONFLICT)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


# Secret columns and the field name each one binds into its associated data.
SECRET_COLUMNS: dict[str, str] = {
    "password_enc": "password",
    "dev_key_enc": "dev_key",
    "api_token_enc": "api_token",
    "remember_me_id_enc": "remember_me_id",
    "session_id_enc": "session_id",
}
