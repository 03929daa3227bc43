"""The login lock: one re-login per connection at a time, across processes, with no write
transaction open while BILL is called.

The lock itself holds no row and no write lock: on PostgreSQL it is a transaction-scoped advisory
lock (in a transaction that writes nothing), on SQLite (one process per database file) an
``asyncio.Lock`` per database and connection. Each write of the holder is a short transaction of
its own, a compare-and-set on the session generation read when the lock was won: if anything
changed the session meanwhile (a re-link), nothing is written and the handle shows the row as it
now stands. So a BILL login that takes 45 s never stalls another connection's writes on SQLite.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import func, select

from billbridge.errors import NotFoundError
from billbridge.store.codec import ConnectionCodec, aware
from billbridge.store.db import Database
from billbridge.store.domain import Clock, Connection, SessionState
from billbridge.store.models import ConnectionRow

# SQLite: the in-process locks, by (database URL, connection pk), with how many hold or wait.
_LOCAL: dict[tuple[str, int], tuple[asyncio.Lock, int]] = {}


class LoginHandle:
    """What the holder of a login lock may do; each write is committed at once if the session
    generation is still the one the handle last saw (see the module).

    ``connection`` is read after the lock was won (and refreshed by every write), so its session
    generation tells whether another caller logged in meanwhile. ``superseded`` turns true when a
    write found the row changed by someone else and was not made.
    """

    def __init__(self, db: Database, codec: ConnectionCodec, clock: Clock, connection: Connection) -> None:
        self._db = db
        self._codec = codec
        self._clock = clock
        self.connection = connection
        self.has_writes = False
        self.superseded = False
        # The generation our writes may replace: the one read at lock time, then our own.
        self._expected = connection.session.generation

    async def save_session(self, state: SessionState) -> Connection:
        """Store a new session (generation = previous + 1) and clear failures and cooldown.

        Args:
            state: the new session; its ``generation`` is ignored (the store assigns it).

        Returns:
            The connection as it now stands.
        """
        aware(state.started_at)
        aware(state.last_used_at)

        def change(row: ConnectionRow) -> None:
            self._codec.write_session(row, state, generation=row.session_generation + 1)
            row.login_failures = 0
            row.cooldown_until = None
            if row.status == "ok":
                row.last_error = None

        return await self._write(change)

    async def mark_invalid(self, message: str) -> Connection:
        """Mark the connection ``invalid_credentials`` (no more logins until re-linked), drop its session."""

        def change(row: ConnectionRow) -> None:
            row.status = "invalid_credentials"
            row.last_error = message
            row.login_failures += 1
            self._codec.clear_session(row)

        return await self._write(change)

    async def record_failure(self, message: str, cooldown_until: datetime | None) -> Connection:
        """Count a transient login failure and set the cooldown before the next attempt."""
        until = aware(cooldown_until)

        def change(row: ConnectionRow) -> None:
            row.last_error = message
            row.login_failures += 1
            row.cooldown_until = until

        return await self._write(change)

    async def _write(self, change: Callable[[ConnectionRow], None]) -> Connection:
        expected = self._expected
        async with self._db.transaction() as session:
            query = select(ConnectionRow).where(ConnectionRow.id == self.connection.pk).with_for_update()
            row = (await session.execute(query)).scalar_one_or_none()
            if row is None:
                raise deleted_connection()
            if not self.superseded and row.session_generation == expected:
                change(row)
                row.updated_at = self._clock()
                await session.flush()
                self.has_writes = True
                self._expected = row.session_generation
            else:
                self.superseded = True  # re-linked meanwhile: the newer row wins
            self.connection = self._codec.read(row)
        return self.connection


def deleted_connection() -> NotFoundError:
    """The connection's row is gone (deleted, maybe by another process). The message names no
    internal row id: callers know the connection by its own id."""
    return NotFoundError("The connection no longer exists; it was deleted.", code="unknown_connection")


@asynccontextmanager
async def login_lock(
    db: Database, codec: ConnectionCodec, pk: int, *, clock: Clock
) -> AsyncIterator[LoginHandle]:
    """Hold the connection's login lock for the block (see ConnectionRepository.login_lock)."""
    async with _exclusive(db, pk):
        async with db.session() as session:
            row = (
                await session.execute(select(ConnectionRow).where(ConnectionRow.id == pk))
            ).scalar_one_or_none()
            if row is None:
                raise deleted_connection()
            connection = codec.read(row)
        yield LoginHandle(db, codec, clock, connection)


@asynccontextmanager
async def _exclusive(db: Database, pk: int) -> AsyncIterator[None]:
    if db.is_postgres:
        digest = hashlib.sha256(f"billbridge-login\0{pk}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        async with db.session() as session, session.begin():
            # Released when this (write-free) transaction ends, also if the process dies.
            await session.execute(select(func.pg_advisory_xact_lock(key)))
            yield
        return
    name = (db.url.render_as_string(hide_password=True), pk)
    lock, users = _LOCAL.get(name, (None, 0))
    if lock is None:
        lock = asyncio.Lock()
    _LOCAL[name] = (lock, users + 1)
    try:
        async with lock:
            yield
    finally:
        lock, users = _LOCAL[name]
        if users <= 1:
            del _LOCAL[name]
        else:
            _LOCAL[name] = (lock, users - 1)
