"""Shared database fixtures (a pytest plugin): migrated SQLite and PostgreSQL databases per test.

Fixtures:
    database_url: URL of a fresh, migrated database, parametrized over "sqlite" and "postgres".
    empty_database_url: the same without any table (for migration tests).
    database: an open ``billbridge.store.Database`` on ``database_url`` (closed afterwards).
    sqlite_database_url / postgres_database_url: one backend only, not parametrized.
    keyring: a ``Keyring`` with one fixed test key (``TEST_KEY_LINE``).
    postgres_admin_url: the server's admin URL from BILLBRIDGE_TEST_POSTGRES_URL.

PostgreSQL databases are cloned from a migrated template once per test module and truncated
before each test; SQLite files are copied from a migrated template for each test.

Without BILLBRIDGE_TEST_POSTGRES_URL the PostgreSQL cases are skipped, except when CI=true, where
they fail: CI must never pass by skipping them.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from billbridge.store import Database, Keyring, create_database, migrate, parse_keys

POSTGRES_ENV = "BILLBRIDGE_TEST_POSTGRES_URL"
TEST_KEY_LINE = "test:" + base64.b64encode(bytes(range(32))).decode()
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def libpq_dsn(url: str | URL) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL (for psycopg and pg_dump)."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_url(path: Path) -> str:
    """The aiosqlite URL of a database file."""
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """Admin URL of the throwaway server; skips (fails on CI) when none is configured."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        message = f"{POSTGRES_ENV} is not set (./scripts/test starts a throwaway PostgreSQL)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    asyncio.run(migrate(sqlite_url(path)))
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url: str) -> Iterator[str]:
    """Name of a migrated PostgreSQL database that each test clones with CREATE DATABASE ... TEMPLATE."""
    name = f"bbt_template_{uuid.uuid4().hex[:12]}"
    _admin(postgres_admin_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    asyncio.run(migrate(make_url(postgres_admin_url).set(database=name)))
    yield name
    _drop(postgres_admin_url, name)


@pytest.fixture
def sqlite_database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh migrated SQLite database file in the test's tmp_path."""
    path = tmp_path / "billbridge.db"
    shutil.copyfile(sqlite_template, path)
    return sqlite_url(path)


@pytest.fixture(scope="module")
def postgres_module_database(postgres_admin_url: str, postgres_template: str) -> Iterator[str]:
    """A migrated PostgreSQL database for one test module (cloning costs ~0.5 s, so not per test)."""
    name = f"bbt_{uuid.uuid4().hex[:16]}"
    create = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
    _admin(postgres_admin_url, create.format(sql.Identifier(name), sql.Identifier(postgres_template)))
    yield make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    _drop(postgres_admin_url, name)


@pytest.fixture
def postgres_database_url(postgres_module_database: str) -> str:
    """The module's PostgreSQL database, emptied (all tables truncated, ids restarted) for this test.

    Tests that change the schema itself must use ``empty_database_url`` instead.
    """
    with psycopg.connect(libpq_dsn(postgres_module_database), autocommit=True) as conn:
        conn.execute("SET lock_timeout = '20s'")
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        ).fetchall()
        if tables:
            names = sql.SQL(", ").join(sql.Identifier(name) for (name,) in tables)
            conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(names))
    return postgres_module_database


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database with no tables at all, on each backend in turn (for migration tests)."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "empty.db")
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    name = f"bbt_{uuid.uuid4().hex[:16]}"
    _admin(admin_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    _drop(admin_url, name)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database on each backend in turn ("sqlite", "postgres")."""
    url: str = request.getfixturevalue(f"{request.param}_database_url")
    return url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """An open Database on ``database_url``."""
    db = await create_database(database_url, run_migrations=False)
    yield db
    await db.close()


@pytest.fixture
def keyring() -> Keyring:
    """A keyring with one fixed key (id "test")."""
    return Keyring(parse_keys(TEST_KEY_LINE))


def _admin(admin_url: str, statement: sql.Composable) -> None:
    with psycopg.connect(libpq_dsn(admin_url), autocommit=True) as conn:
        conn.execute(statement)


def _drop(admin_url: str, name: str) -> None:
    _admin(admin_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
