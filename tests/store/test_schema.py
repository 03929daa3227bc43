"""Migrations: packaged, run programmatically, same schema as the models on both databases."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

import billbridge.store
from billbridge.store import create_database, migrate
from billbridge.store.models import Base
from billbridge.store.schema import alembic_config, current_revision, head_revision

TABLES = {
    "alembic_version",
    "api_keys",
    "bill_budgets",
    "bill_sync_shares",
    "connect_session_links",
    "connect_sessions",
    "connections",
    "idempotency_keys",
    "operations",
    "record_streams",
    "records",
    "sync_states",
    "sync_walks",
}


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_first_migration_creates_every_table_matching_the_models(empty_database_url: str) -> None:
    assert await current_revision(empty_database_url) is None
    db = await create_database(empty_database_url)
    try:
        assert await current_revision(empty_database_url) == head_revision()
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_tables) == TABLES
            assert await conn.run_sync(_diff) == []
    finally:
        await db.close()


async def test_migrate_is_idempotent(empty_database_url: str) -> None:
    await migrate(empty_database_url)
    await migrate(empty_database_url)
    assert await current_revision(empty_database_url) == head_revision()


async def test_concurrent_first_starts_both_succeed(empty_database_url: str) -> None:
    # Two processes starting at once on an empty database: one migrates, the other waits.
    await asyncio.gather(
        migrate(empty_database_url), migrate(empty_database_url), migrate(empty_database_url)
    )
    assert await current_revision(empty_database_url) == head_revision()


def test_migrations_ship_inside_the_package() -> None:
    location = Path(alembic_config().get_main_option("script_location") or "")
    package_dir = Path(billbridge.store.__file__).parent
    assert location == package_dir / "migrations"
    assert (location / "env.py").is_file()
    assert list((location / "versions").glob("r0001_*.py"))
    assert list((location / "versions").glob("r0002_*.py"))
    assert list((location / "versions").glob("r0003_*.py"))
    assert list((location / "versions").glob("r0004_*.py"))
    assert list((location / "versions").glob("r0005_*.py"))
    assert list((location / "versions").glob("r0008_*.py"))
    assert list((location / "versions").glob("r0009_*.py"))
    assert head_revision() == "0009"


def test_alembic_commands_work_without_a_shared_connection(tmp_path: Path) -> None:
    # The path `alembic` commands take (e.g. writing a new revision): env.py opens its own engine.
    from alembic import command
    from sqlalchemy.engine import make_url

    url = make_url(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    command.upgrade(alembic_config(url), "head")
    assert asyncio.run(current_revision(url)) == head_revision()
