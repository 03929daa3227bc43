"""Connect sessions: short-lived tokens that let an end user link an account, stored hashed."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from billbridge.errors import NotFoundError
from billbridge.store.crypto import Keyring
from billbridge.store.db import Database
from billbridge.store.domain import Clock, ConnectSession, utc_now
from billbridge.store.models import ConnectSessionLinkRow, ConnectSessionRow, table_of

TOKEN_PREFIX = "nango_connect_session_"
DEFAULT_TTL = timedelta(minutes=30)
_TOKEN_SHAPE = re.compile(rf"^{TOKEN_PREFIX}[0-9a-f]{{64}}$")


def new_token() -> str:
    """A fresh token: the Nango prefix and 64 lowercase hex characters (32 random bytes)."""
    return TOKEN_PREFIX + secrets.token_hex(32)


def is_well_formed(token: str) -> bool:
    """True when ``token`` has the shape of a connect session token."""
    return bool(_TOKEN_SHAPE.match(token))


def token_hash(token: str) -> str:
    """How a token is stored and looked up: its SHA-256, hex (the token has 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


class ConnectSessionRepository:
    """Creates, finds and counts attempts on connect sessions, and records what they linked.

    ``keyring`` is accepted for symmetry with the other repositories; nothing here is secret once
    the token is hashed.
    """

    def __init__(self, db: Database, keyring: Keyring | None = None, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def create(
        self,
        *,
        end_user: dict[str, Any] | None,
        organization: dict[str, Any] | None,
        allowed_integrations: Sequence[str] | None,
        integrations_config_defaults: Mapping[str, Any],
        tags: Mapping[str, str],
        webhook_url_override: str | None,
        reconnect: tuple[str, str] | None,
        mfa_required: bool = False,
        ttl: timedelta = DEFAULT_TTL,
    ) -> tuple[str, ConnectSession]:
        """Create a connect session.

        Args:
            reconnect: (connection_id, provider_config_key) a reconnect session pins, else None.

        Returns:
            The token (shown once; only its hash is stored) and the session.
        """
        token = new_token()
        now = self._clock()
        row = ConnectSessionRow(
            token_hash=token_hash(token),
            end_user=dict(end_user) if end_user is not None else None,
            organization=dict(organization) if organization is not None else None,
            allowed_integrations=list(allowed_integrations) if allowed_integrations is not None else None,
            integrations_config_defaults=dict(integrations_config_defaults),
            tags=dict(tags),
            webhook_url_override=webhook_url_override,
            reconnect_connection_id=reconnect[0] if reconnect else None,
            reconnect_provider_config_key=reconnect[1] if reconnect else None,
            mfa_required=mfa_required,
            attempts=0,
            created_at=now,
            expires_at=now + ttl,
        )
        async with self._db.transaction() as session:
            session.add(row)
            await session.flush()
            return token, _to_domain(row, frozenset())

    async def get_by_token(self, token: str) -> ConnectSession | None:
        """The session of ``token``, or None if it is malformed, unknown or expired."""
        if not is_well_formed(token):
            return None
        query = select(ConnectSessionRow).where(
            ConnectSessionRow.token_hash == token_hash(token), ConnectSessionRow.expires_at > self._clock()
        )
        async with self._db.session() as session:
            row = (await session.execute(query)).scalar_one_or_none()
            if row is None:
                return None
            linked = select(ConnectSessionLinkRow.connection_pk).where(
                ConnectSessionLinkRow.connect_session_pk == row.id
            )
            return _to_domain(row, frozenset((await session.execute(linked)).scalars()))

    async def record_link(self, session_pk: int, connection_pk: int) -> None:
        """Remember that connect session ``session_pk`` linked connection ``connection_pk``.

        Recording the same pair again changes nothing. The record goes when either the session
        or the connection is deleted.

        Raises:
            NotFoundError: the session or the connection no longer exists.
        """
        insert = postgresql.insert if self._db.is_postgres else sqlite.insert
        statement = (
            insert(table_of(ConnectSessionLinkRow))
            .values(connect_session_pk=session_pk, connection_pk=connection_pk, created_at=self._clock())
            .on_conflict_do_nothing(index_elements=["connect_session_pk", "connection_pk"])
        )
        try:
            async with self._db.transaction() as session:
                await session.execute(statement)
        except IntegrityError:
            # Only the foreign keys can fail here: one side was deleted meanwhile.
            raise NotFoundError("The connect session or the connection no longer exists.") from None

    async def delete(self, token: str) -> bool:
        """Delete the session of ``token``; False if there was none."""
        statement = delete(ConnectSessionRow).where(ConnectSessionRow.token_hash == token_hash(token))
        async with self._db.transaction() as session:
            result = await session.execute(statement)
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def register_attempt(self, token: str) -> int:
        """Count one link attempt on ``token`` atomically and return the new count.

        Raises:
            NotFoundError: the token is malformed, unknown or expired.
        """
        statement = (
            update(ConnectSessionRow)
            .where(
                ConnectSessionRow.token_hash == token_hash(token),
                ConnectSessionRow.expires_at > self._clock(),
            )
            .values(attempts=ConnectSessionRow.attempts + 1)
            .returning(ConnectSessionRow.attempts)
        )
        async with self._db.transaction() as session:
            attempts = (await session.execute(statement)).scalar_one_or_none()
        if attempts is None:
            raise NotFoundError(
                "Unknown or expired connect session token.", code="unknown_connect_session_token"
            )
        return attempts

    async def purge_expired(self, *, before: datetime | None = None) -> int:
        """Delete sessions that expired before ``before`` (default now); returns how many."""
        statement = delete(ConnectSessionRow).where(ConnectSessionRow.expires_at <= (before or self._clock()))
        async with self._db.transaction() as session:
            result = await session.execute(statement)
            return int(result.rowcount)  # type: ignore[attr-defined]


def _to_domain(row: ConnectSessionRow, linked: frozenset[int]) -> ConnectSession:
    reconnect = None
    if row.reconnect_connection_id is not None and row.reconnect_provider_config_key is not None:
        reconnect = (row.reconnect_connection_id, row.reconnect_provider_config_key)
    return ConnectSession(
        pk=row.id,
        end_user=dict(row.end_user) if row.end_user is not None else None,
        organization=dict(row.organization) if row.organization is not None else None,
        allowed_integrations=list(row.allowed_integrations) if row.allowed_integrations is not None else None,
        integrations_config_defaults=dict(row.integrations_config_defaults),
        tags={str(k): str(v) for k, v in row.tags.items()},
        webhook_url_override=row.webhook_url_override,
        reconnect=reconnect,
        mfa_required=row.mfa_required,
        attempts=row.attempts,
        created_at=row.created_at,
        expires_at=row.expires_at,
        linked_connections=linked,
    )
