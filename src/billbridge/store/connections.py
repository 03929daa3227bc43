"""Connections: linked BILL accounts with encrypted credentials and session."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, exists, func, inspect, or_, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from billbridge.store.codec import (
    ConnectionCodec,
    aware,
    reset_health,
    search_term,
    summary,
    write_end_user,
)
from billbridge.store.crypto import Keyring
from billbridge.store.db import Database
from billbridge.store.domain import (
    UNSET,
    BillCredentials,
    Clock,
    Connection,
    ConnectionSummary,
    EnvironmentName,
    SessionState,
    Unset,
    utc_now,
)
from billbridge.store.locking import LoginHandle, deleted_connection, login_lock
from billbridge.store.models import ConnectionRow, table_of
from billbridge.store.notifications import notify_deleted


@dataclass(frozen=True, slots=True)
class _Link:
    environment: EnvironmentName
    credentials: BillCredentials
    session: SessionState
    end_user: dict[str, Any] | None
    tags: dict[str, str]
    webhook_url_override: str | None
    connection_config: dict[str, Any]


class ConnectionRepository:
    """Reads and writes connections; every secret goes through the keyring."""

    def __init__(self, db: Database, keyring: Keyring, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._codec = ConnectionCodec(keyring)
        self._clock = clock

    async def get(self, connection_id: str, provider_config_key: str) -> Connection | None:
        """The connection with this id and integration, or None."""
        query = select(ConnectionRow).where(
            ConnectionRow.connection_id == connection_id,
            ConnectionRow.provider_config_key == provider_config_key,
        )
        async with self._db.session() as session:
            row = (await session.execute(query)).scalar_one_or_none()
            return self._codec.read(row) if row is not None else None

    async def get_by_pk(self, pk: int) -> Connection | None:
        """The connection with this internal id, or None."""
        async with self._db.session() as session:
            row = await session.get(ConnectionRow, pk)
            return self._codec.read(row) if row is not None else None

    async def list(
        self,
        *,
        connection_id: str | None = None,
        integration_ids: Sequence[str] | None = None,
        end_user_id: str | None = None,
        end_user_organization_id: str | None = None,
        search: str | None = None,
        tags: Mapping[str, str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> builtins.list[Connection]:
        """Connections matching every given filter, newest first, secrets decrypted.

        The filters are those of :meth:`list_summaries`.
        """
        query = self._listing(
            connection_id=connection_id,
            integration_ids=integration_ids,
            end_user_id=end_user_id,
            end_user_organization_id=end_user_organization_id,
            search=search,
            tags=tags,
            limit=limit,
            offset=offset,
        )
        async with self._db.session() as session:
            rows = (await session.execute(query)).scalars().all()
            return [self._codec.read(row) for row in rows]

    async def list_summaries(
        self,
        *,
        connection_id: str | None = None,
        integration_ids: Sequence[str] | None = None,
        end_user_id: str | None = None,
        end_user_organization_id: str | None = None,
        search: str | None = None,
        tags: Mapping[str, str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> builtins.list[ConnectionSummary]:
        """Connections matching every given filter, newest first (Nango's ``GET /connections``),
        without decrypting anything.

        Args:
            connection_id: exact connection id.
            integration_ids: provider config keys; any of them matches.
            end_user_id: exact end-user id.
            end_user_organization_id: exact end-user organization id.
            search: case-insensitive substring of the connection id, end-user display name or email.
            tags: every pair must be present on the connection.
            limit: at most this many (None: all).
            offset: skip this many first.
        """
        query = self._listing(
            connection_id=connection_id,
            integration_ids=integration_ids,
            end_user_id=end_user_id,
            end_user_organization_id=end_user_organization_id,
            search=search,
            tags=tags,
            limit=limit,
            offset=offset,
        )
        async with self._db.session() as session:
            rows = (await session.execute(query)).scalars().all()
            return [summary(row) for row in rows]

    def _listing(
        self,
        *,
        connection_id: str | None,
        integration_ids: Sequence[str] | None,
        end_user_id: str | None,
        end_user_organization_id: str | None,
        search: str | None,
        tags: Mapping[str, str] | None,
        limit: int | None,
        offset: int,
    ) -> Select[tuple[ConnectionRow]]:
        query = select(ConnectionRow)
        if connection_id is not None:
            query = query.where(ConnectionRow.connection_id == connection_id)
        if integration_ids is not None:
            query = query.where(ConnectionRow.provider_config_key.in_(list(integration_ids)))
        if end_user_id is not None:
            query = query.where(ConnectionRow.end_user_id == end_user_id)
        if end_user_organization_id is not None:
            query = query.where(ConnectionRow.end_user_organization_id == end_user_organization_id)
        if search:
            query = query.where(ConnectionRow.search_text.contains(search_term(search), autoescape=True))
        if tags:
            query = self._where_tags(query, tags)
        query = query.order_by(ConnectionRow.created_at.desc(), ConnectionRow.id.desc()).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return query

    def _where_tags(
        self, query: Select[tuple[ConnectionRow]], tags: Mapping[str, str]
    ) -> Select[tuple[ConnectionRow]]:
        if self._db.is_postgres:
            return query.where(type_coerce(ConnectionRow.tags, JSONB).contains(dict(tags)))
        conditions: list[ColumnElement[bool]] = []
        for key, value in tags.items():
            pairs = func.json_each(ConnectionRow.tags).table_valued("key", "value")
            conditions.append(
                exists(select(1).select_from(pairs).where(pairs.c.key == key, pairs.c.value == value))
            )
        return query.where(*conditions)

    async def upsert_linked(
        self,
        *,
        connection_id: str,
        provider_config_key: str,
        environment: EnvironmentName,
        credentials: BillCredentials,
        session: SessionState,
        end_user: dict[str, Any] | None,
        tags: Mapping[str, str],
        webhook_url_override: str | None,
        connection_config: dict[str, Any],
    ) -> tuple[Connection, bool]:
        """Store a freshly linked account in one transaction.

        A new (connection_id, provider_config_key) is created with session generation 1. An existing
        one is re-linked: credentials, session (generation + 1), environment, end user, tags,
        webhook override and connection config are replaced, status and failures reset, while
        metadata, ``created_at`` and ``last_fetched_at`` are kept.

        Returns:
            The connection and True if it was created, False if it was re-linked.
        """
        now = self._clock()
        aware(session.started_at)
        aware(session.last_used_at)
        link = _Link(
            environment=environment,
            credentials=credentials,
            session=session,
            end_user=end_user,
            tags=dict(tags),
            webhook_url_override=webhook_url_override,
            connection_config=dict(connection_config),
        )
        row = ConnectionRow(
            connection_id=connection_id,
            provider_config_key=provider_config_key,
            metadata_={},
            created_at=now,
            last_fetched_at=None,
        )
        self._apply_link(row, link, generation=1, now=now)
        values = {
            attr.columns[0].name: getattr(row, attr.key) for attr in inspect(ConnectionRow).column_attrs
        }
        values.pop("id")
        insert = postgresql.insert if self._db.is_postgres else sqlite.insert
        statement = (
            insert(table_of(ConnectionRow))
            .values(values)
            .on_conflict_do_nothing(index_elements=["connection_id", "provider_config_key"])
            .returning(ConnectionRow.id)
        )
        async with self._db.transaction() as db_session:
            pk = (await db_session.execute(statement)).scalar_one_or_none()
            if pk is not None:
                return self._codec.read(await db_session.get_one(ConnectionRow, pk)), True
            query = (
                select(ConnectionRow)
                .where(
                    ConnectionRow.connection_id == connection_id,
                    ConnectionRow.provider_config_key == provider_config_key,
                )
                .with_for_update()
            )
            existing = (await db_session.execute(query)).scalar_one()
            self._apply_link(existing, link, generation=existing.session_generation + 1, now=now)
            await db_session.flush()
            return self._codec.read(existing), False

    def _apply_link(self, row: ConnectionRow, link: _Link, *, generation: int, now: datetime) -> None:
        row.environment = link.environment
        reset_health(row)
        write_end_user(row, link.end_user)
        row.tags = link.tags
        row.webhook_url_override = link.webhook_url_override
        row.connection_config = link.connection_config
        self._codec.write_credentials(row, link.credentials)
        self._codec.write_session(row, link.session, generation=generation)
        row.updated_at = now

    async def delete(self, pk: int) -> bool:
        """Delete a connection; False if there was none. On PostgreSQL every process is told."""
        async with self._db.transaction() as session:
            result = await session.execute(delete(ConnectionRow).where(ConnectionRow.id == pk))
            deleted = bool(result.rowcount)  # type: ignore[attr-defined]
            if deleted and self._db.is_postgres:
                await notify_deleted(session, pk)
            return deleted

    async def set_metadata(self, pk: int, metadata: Mapping[str, Any], *, merge: bool) -> Connection:
        """Replace the metadata, or shallow-merge into it when ``merge`` (Nango's PATCH)."""
        async with self._db.transaction() as session:
            row = await self._locked(session, pk)
            row.metadata_ = {**row.metadata_, **metadata} if merge else dict(metadata)
            row.updated_at = self._clock()
            await session.flush()
            return self._codec.read(row)

    async def patch(
        self,
        pk: int,
        *,
        end_user: dict[str, Any] | Unset | None = UNSET,
        tags: Mapping[str, str] | Unset = UNSET,
        webhook_url_override: str | Unset | None = UNSET,
    ) -> Connection:
        """Change the given fields only (``UNSET`` leaves a field as it is)."""
        async with self._db.transaction() as session:
            row = await self._locked(session, pk)
            if not isinstance(end_user, Unset):
                write_end_user(row, end_user)
            if not isinstance(tags, Unset):
                row.tags = dict(tags)
            if not isinstance(webhook_url_override, Unset):
                row.webhook_url_override = webhook_url_override
            row.updated_at = self._clock()
            await session.flush()
            return self._codec.read(row)

    async def update_credentials(self, pk: int, credentials: BillCredentials) -> Connection:
        """Replace the stored credentials (e.g. a new remember-me id after MFA); status is unchanged."""
        async with self._db.transaction() as session:
            row = await self._locked(session, pk)
            self._codec.write_credentials(row, credentials)
            row.updated_at = self._clock()
            await session.flush()
            return self._codec.read(row)

    async def touch_fetched(self, pk: int, at: datetime | None = None) -> None:
        """Set ``last_fetched_at`` (a read through the API) to ``at`` or now."""
        statement = (
            update(ConnectionRow)
            .where(ConnectionRow.id == pk)
            .values(last_fetched_at=aware(at) or self._clock())
        )
        async with self._db.transaction() as session:
            await session.execute(statement)

    async def record_session_use(self, pk: int, at: datetime) -> None:
        """Note that the session was used at ``at`` (one UPDATE; never moves the time backwards)."""
        column = ConnectionRow.session_last_used_at
        statement = (
            update(ConnectionRow)
            .where(ConnectionRow.id == pk, or_(column.is_(None), column < aware(at)))
            .values(session_last_used_at=at)
        )
        async with self._db.transaction() as session:
            await session.execute(statement)

    def login_lock(self, pk: int) -> AbstractAsyncContextManager[LoginHandle]:
        """Hold connection ``pk`` exclusively for a re-login, across processes.

        On PostgreSQL a write-free transaction holds an advisory lock; on SQLite (one process per
        file) an in-process lock serialises callers. No write transaction is open in the block, so
        BILL may be called there: ``handle.connection`` is read after the lock is won, and each
        handle write is its own short transaction, made only if the session generation is still
        the one the handle saw (see ``store.locking``).

        Raises:
            NotFoundError: no connection ``pk``.
        """
        return login_lock(self._db, self._codec, pk, clock=self._clock)

    @staticmethod
    async def _locked(session: AsyncSession, pk: int) -> ConnectionRow:
        query = select(ConnectionRow).where(ConnectionRow.id == pk).with_for_update()
        row: ConnectionRow | None = (await session.execute(query)).scalar_one_or_none()
        if row is None:
            raise deleted_connection()
        return row
