"""Deletions reach every process on PostgreSQL; on SQLite (one process) there is nothing to tell."""

from __future__ import annotations

import asyncio

import pytest
from store_samples import link

from billbridge.store import ConnectionRepository, Database, Keyring, create_database
from billbridge.store.notifications import deletions_listened


@pytest.mark.postgres
async def test_a_deletion_is_told_to_another_database_handle(
    postgres_database_url: str, keyring: Keyring
) -> None:
    here = await create_database(postgres_database_url, run_migrations=False)
    elsewhere = await create_database(postgres_database_url, run_migrations=False)
    told: asyncio.Queue[int] = asyncio.Queue()
    try:
        async with deletions_listened(elsewhere, told.put_nowait) as ready:
            await asyncio.wait_for(ready.wait(), 10)
            repo = ConnectionRepository(here, keyring)
            conn, _ = await link(repo)
            kept, _ = await link(repo, "conn-2")

            assert await repo.delete(conn.pk) is True
            assert await repo.delete(conn.pk) is False  # nothing deleted: nothing told

            assert await asyncio.wait_for(told.get(), 10) == conn.pk
            await asyncio.sleep(0.2)
            assert told.empty()
            assert await repo.get_by_pk(kept.pk) is not None
    finally:
        await here.close()
        await elsewhere.close()


async def test_sqlite_needs_no_listener(sqlite_database_url: str) -> None:
    db: Database = await create_database(sqlite_database_url, run_migrations=False)
    try:
        async with deletions_listened(db, lambda _: None) as ready:
            assert ready.is_set()
    finally:
        await db.close()
