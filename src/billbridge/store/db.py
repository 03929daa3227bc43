"""Async engines for SQLite (WAL) and PostgreSQL, and the Database handle the repositories share."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from billbridge.errors import ConfigurationError, StoreError
from billbridge.store.data_dir import create_private_directory, create_private_file

if TYPE_CHECKING:
    from billbridge.settings import Settings

DEFAULT_BUSY_TIMEOUT_MS = 30_000
# Seconds a pooled PostgreSQL connection may sit idle before it is checked on checkout.
PING_IDLE_AFTER = 1.0
_LAST_USED = "billbridge_last_used"
# Execution option that makes a SQLite transaction start with BEGIN IMMEDIATE (take the write lock
# up front): a deferred read-then-write transaction in WAL mode fails at once with SQLITE_BUSY
# instead of waiting, and two processes would not serialise.
SQLITE_BEGIN_OPTION = "billbridge_sqlite_begin"


def parse_database_url(url: str) -> URL:
    """Parse and check a database URL: SQLite via aiosqlite or PostgreSQL via psycopg 3.

    Plain ``sqlite://`` and ``postgresql://`` are upgraded to the async drivers.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError("BILLBRIDGE_DATABASE_URL is not a valid database URL.") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in {"postgresql", "postgres"}:
        return parsed.set(drivername="postgresql+psycopg")
    raise ConfigurationError(
        "BILLBRIDGE_DATABASE_URL must be sqlite+aiosqlite:///PATH or postgresql+psycopg://USER@HOST/DB."
    )


def create_engine(
    url: str | URL,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ping_idle_after: float = PING_IDLE_AFTER,
) -> AsyncEngine:
    """An async engine for ``url``; on SQLite with WAL, busy_timeout and explicit BEGIN handling;
    on PostgreSQL, pooled connections idle for ``ping_idle_after`` seconds are checked before use."""
    parsed = parse_database_url(url) if isinstance(url, str) else url
    # hide_parameters: a failed statement's message would otherwise carry its values (end users'
    # names and e-mail addresses) into logs and tracebacks.
    if parsed.get_backend_name() == "postgresql":
        engine = create_async_engine(parsed, pool_size=10, max_overflow=20, hide_parameters=True)
        _ping_when_idle(engine, after=ping_idle_after)
        return engine
    engine = create_async_engine(
        parsed, connect_args={"timeout": busy_timeout_ms / 1000}, hide_parameters=True
    )
    _configure_sqlite(engine, busy_timeout_ms=busy_timeout_ms)
    return engine


def _ping_when_idle(engine: AsyncEngine, *, after: float) -> None:
    """Check a pooled connection before use only if it sat idle for ``after`` seconds or more.

    ``pool_pre_ping`` checks every checkout: one more round trip for every transaction (a page
    stored, a budget batch reserved, an API call), through an event loop that may be busy. A
    connection given back moments ago is as alive as the ping would find it, so only one that sat
    in the pool longer (a server restart, a dropped idle connection) is checked; a failed check
    makes the pool replace it.
    """
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_LAST_USED)
        if last is None or time.monotonic() - last < after:
            return  # new (just connected) or used moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("a pooled connection failed its check") from exc


def prepare_sqlite_connection(dbapi_connection: Any, *, busy_timeout_ms: int) -> None:
    """What every billbridge connection to a SQLite file sets first (any SQLite driver)."""
    # Let SQLAlchemy, not the driver, decide when and how transactions begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        f"PRAGMA busy_timeout = {int(busy_timeout_ms)}",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA foreign_keys = ON",
    ):
        cursor.execute(pragma)
    cursor.close()


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        prepare_sqlite_connection(dbapi_connection, busy_timeout_ms=busy_timeout_ms)
        cursor = dbapi_connection.cursor()
        # A read makes the connection notice a file another connection already switched to WAL.
        cursor.execute("SELECT count(*) FROM sqlite_master")
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() != "wal":
            # Switching ignores busy_timeout and fails at once while another connection holds a
            # lock (two first starts on a new file); ensure_wal() retries, WAL then persists.
            with contextlib.suppress(sqlite3.OperationalError):
                cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


async def ensure_wal(engine: AsyncEngine, *, attempts: int = 200) -> None:
    """Put a SQLite database in WAL mode (persistent in the file), retrying while it is locked.

    Raises:
        StoreError: the database stayed locked for every attempt.
    """
    if engine.dialect.name != "sqlite":
        return
    for _ in range(attempts):
        async with engine.connect() as conn:
            # The driver connection directly: the journal mode cannot change inside a transaction,
            # and every statement through SQLAlchemy would begin one.
            raw: Any = (await conn.get_raw_connection()).driver_connection
            with contextlib.suppress(sqlite3.OperationalError):
                await (await raw.execute("SELECT count(*) FROM sqlite_master")).fetchall()
                row = await (await raw.execute("PRAGMA journal_mode = WAL")).fetchone()
                if row is not None and str(row[0]).lower() == "wal":
                    return
        await asyncio.sleep(0.02)
    raise StoreError("Could not switch the SQLite database to WAL mode: it stayed locked.")


class Database:
    """One engine plus session factories.

    ``session()`` is for reads (and writes that need no lock-up-front); ``transaction()`` is a write
    transaction: committed on normal exit, rolled back on error, and on SQLite begun IMMEDIATE.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"
        self._reads = async_sessionmaker(engine, expire_on_commit=False)
        write_bind = (
            engine if self.is_postgres else engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        )
        self._writes = async_sessionmaker(write_bind, expire_on_commit=False)

    @classmethod
    async def open(cls, settings: Settings, *, run_migrations: bool = True) -> Database:
        """Open the configured database (creating the data directory for SQLite) at schema head."""
        url = parse_database_url(settings.resolved_database_url)
        if url.get_backend_name() == "sqlite":
            ensure_sqlite_directory(url)
        return await create_database(url, run_migrations=run_migrations)

    @property
    def url(self) -> URL:
        """The engine's URL (render it with ``hide_password=True`` if you show it)."""
        return self.engine.url

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; commit explicitly if you write through it."""
        async with self._reads() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), committed when the block ends."""
        async with self._writes() as session, session.begin():
            yield session

    @asynccontextmanager
    async def write_session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction begins IMMEDIATE on SQLite; the caller commits or rolls back."""
        async with self._writes() as session:
            yield session

    async def close(self) -> None:
        """Dispose of the engine's connections."""
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"


async def create_database(
    url: str | URL, *, run_migrations: bool = True, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
) -> Database:
    """A :class:`Database` for ``url``, migrated to the newest schema unless told otherwise."""
    parsed = parse_database_url(url) if isinstance(url, str) else url
    if run_migrations:
        from billbridge.store.schema import migrate

        await migrate(parsed)
    return Database(create_engine(parsed, busy_timeout_ms=busy_timeout_ms))


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite database URL (None for PostgreSQL, memory and ``file:`` URIs)."""
    parsed = parse_database_url(url) if isinstance(url, str) else url
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else Path(database)


def ensure_sqlite_directory(url: URL) -> None:
    """Create the directory (0700) and the file (0600) of a SQLite database if they are missing."""
    path = sqlite_file(url)
    if path is not None:
        create_private_directory(path.parent)
        create_private_file(path)
