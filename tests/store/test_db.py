"""Engines and the Database handle: URLs, SQLite pragmas, opening from settings."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url, text

from billbridge.errors import ConfigurationError
from billbridge.settings import get_settings
from billbridge.store import Database, create_engine
from billbridge.store.db import parse_database_url
from billbridge.store.schema import current_revision, head_revision


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
    ],
)
def test_urls_are_upgraded_to_async_drivers(url: str, driver: str) -> None:
    assert parse_database_url(url).drivername == driver


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url", ""])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="BILLBRIDGE_DATABASE_URL"):
        parse_database_url(url)


async def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", busy_timeout_ms=1234)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 1234
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_open_creates_the_data_directory_and_migrates(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    settings = get_settings(data_dir=data_dir, database_url=None)
    db = await Database.open(settings)
    try:
        assert not db.is_postgres
        assert (data_dir / "billbridge.db").is_file()
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert await current_revision(settings.resolved_database_url) == head_revision()
        # WAL is recorded in the file header (read/write format versions 2), so it persists.
        assert (data_dir / "billbridge.db").read_bytes()[18:20] == b"\x02\x02"
    finally:
        await db.close()


async def _insert(database: Database, kind: str, *, fail: bool) -> None:
    async with database.transaction() as session:
        statement = (
            "INSERT INTO operations (kind, outcome, created_at) VALUES (:kind, 'ok', CURRENT_TIMESTAMP)"
        )
        await session.execute(text(statement), {"kind": kind})
        if fail:
            raise RuntimeError("boom")


async def test_transaction_commits_and_rolls_back(database: Database) -> None:
    await _insert(database, "a", fail=False)
    with pytest.raises(RuntimeError):
        await _insert(database, "b", fail=True)
    async with database.session() as session:
        kinds = (await session.execute(text("SELECT kind FROM operations"))).scalars().all()
    assert kinds == ["a"]


def test_repr_hides_the_password() -> None:
    db = Database(create_engine("postgresql+psycopg://user:hunter2pass@127.0.0.1:1/db"))
    assert "hunter2pass" not in repr(db)


@pytest.mark.postgres
async def test_postgres_checks_only_connections_that_sat_idle(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(postgres_database_url, ping_idle_after=0.3)
    pings: list[object] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    try:
        async with engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        for _ in range(3):  # used moments ago: no round trip for a check
            async with engine.connect() as conn:
                assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() == pid
        assert pings == []
        # The server drops the pooled connection while it sits idle: the check finds it dead and
        # the pool hands out a new one instead of an error.
        dsn = (
            make_url(postgres_database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        await asyncio.sleep(0.4)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid
        assert len(pings) >= 1
    finally:
        await engine.dispose()
