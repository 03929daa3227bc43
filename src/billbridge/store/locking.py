"""The login lock: one re-login per connection at a time, across processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billbridge.errors import NotFoundError
from billbridge.store.codec import ConnectionCodec, aware
from billbridge.store.db import Database
from billbridge.store.domain import Clock, Connection, SessionState
from billbridge.store.models import ConnectionRow


class LoginHandle:
    """What the holder of a login lock may do; every write joins the locked transaction.

    ``connection`` is read after the lock was won, so its session generation tells whether
    another caller logged in meanwhile.
    """

    def __init__(
        self, session: AsyncSession, row: ConnectionRow, codec: ConnectionCodec, clock: Clock
    ) -> None:
        self._session = session
        self._row = row
        self._codec = codec
        self._clock = clock
        self.connection: Connection = codec.read(row)
        self.has_writes = False

    async def save_session(self, state: SessionState) -> Connection:
        """Store a new session (generation = previous + 1) and clear failures and cooldown.

        Args:
            state: the new session; its ``generation`` is ignored (the store assigns it).

        Returns:
            The connection as it now stands.
        """
        aware(state.started_at)
        aware(state.last_used_at)
        self._codec.write_session(self._row, state, generation=self._row.session_generation + 1)
        self._row.login_failures = 0
        self._row.cooldown_until = None
        if self._row.status == "ok":
            self._row.last_error = None
        return await self._flush()

    async def mark_invalid(self, message: str) -> Connection:
        """Mark the connection ``invalid_credentials`` (no more logins until re-linked), drop its session."""
        self._row.status = "invalid_credentials"
        self._row.last_error = message
        self._row.login_failures += 1
        self._codec.clear_session(self._row)
        return await self._flush()

    async def record_failure(self, message: str, cooldown_until: datetime | None) -> Connection:
        """Count a transient login failure and set the cooldown before the next attempt."""
        self._row.last_error = message
        self._row.login_failures += 1
        self._row.cooldown_until = aware(cooldown_until)
        return await self._flush()

    async def _flush(self) -> Connection:
        self._row.updated_at = self._clock()
        await self._session.flush()
        self.has_writes = True
        self.connection = self._codec.read(self._row)
        return self.connection


def deleted_connection() -> NotFoundError:
    """The connection's row is gone (deleted, maybe by another process). The message names no
    internal row id: callers know the connection by its own id."""
    return NotFoundError("The connection no longer exists; it was deleted.", code="unknown_connection")


@asynccontextmanager
async def login_lock(
    db: Database, codec: ConnectionCodec, pk: int, *, clock: Clock
) -> AsyncIterator[LoginHandle]:
    """Hold the connection's lock for the whole block (see ConnectionRepository.login_lock)."""
    async with db.write_session() as session:
        # BEGIN IMMEDIATE on SQLite (whole-database write lock), SELECT ... FOR UPDATE on PostgreSQL.
        query = select(ConnectionRow).where(ConnectionRow.id == pk).with_for_update()
        row = (await session.execute(query)).scalar_one_or_none()
        if row is None:
            await session.rollback()
            raise deleted_connection()
        handle = LoginHandle(session, row, codec, clock)
        try:
            yield handle
        except Exception:
            # Writes made through the handle are decisions (e.g. mark_invalid, then raise): keep them.
            if handle.has_writes:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
