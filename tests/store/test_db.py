"""Engines and the Database handle: URLs, SQLite pragmas, opening from settings."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import text

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
