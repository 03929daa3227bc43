"""Alembic, run programmatically: bring a database to the newest schema.

To write a new revision: ``command.revision(alembic_config(url), message, autogenerate=True)``
against a database at head, then review the generated file in ``migrations/versions``.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL

from billbridge.store.db import SQLITE_BEGIN_OPTION, create_engine, ensure_wal, parse_database_url

# Any constant: concurrent starts on PostgreSQL take this advisory lock so one migrates at a time.
_MIGRATION_LOCK_ID = 0x6262_6D69


def alembic_config(url: URL | None = None) -> Config:
    """An Alembic config pointing at the migrations packaged inside billbridge.store."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("billbridge.store") / "migrations"))
    if url is not None:
        # ConfigParser interpolation would read a '%' in a password as a directive.
        rendered = url.render_as_string(hide_password=False).replace("%", "%%")
        config.set_main_option("sqlalchemy.url", rendered)
    return config


def head_revision() -> str:
    """The newest revision the packaged migrations define."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def migrate(url: str | URL, *, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` (default: newest) in one transaction."""
    parsed = parse_database_url(url) if isinstance(url, str) else url
    engine = create_engine(parsed)
    config = alembic_config(parsed)
    try:
        await ensure_wal(engine)
        # On SQLite the write engine begins IMMEDIATE, so concurrent starts serialise there too.
        bind = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        async with bind.begin() as conn:
            await conn.run_sync(_upgrade, config, revision)
    finally:
        await engine.dispose()


async def current_revision(url: str | URL) -> str | None:
    """The revision the database at ``url`` is at, or None if it was never migrated."""
    parsed = parse_database_url(url) if isinstance(url, str) else url
    engine = create_engine(parsed)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
