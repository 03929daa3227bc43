"""SQLite page writes that queue while the writer is busy commit together, each page on its own."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from store_samples import link

from billbridge.errors import NotFoundError
from billbridge.store import ConnectionRepository, Database
from billbridge.store.record_sqlite import Cursor, SqliteWriter
from billbridge.store.records import PageCounts, RecordRepository
from billbridge.store.sync_state import SyncCheckpoint


@pytest.fixture
def database_url(sqlite_database_url: str) -> str:
    return sqlite_database_url


def vendor(n: int) -> dict[str, Any]:
    return {"id": f"009{n:017d}", "name": f"Vendor {n}", "updatedTime": "2025-03-01T10:00:00.000+00:00"}


def sqlite_writer(records: RecordRepository) -> SqliteWriter:
    writer = records.sqlite_writer()
    assert writer is not None
    return writer


async def _hold_the_writer(records: RecordRepository) -> tuple[threading.Event, asyncio.Future[None]]:
    """Occupy the writer's thread until the returned event is set (what queues meanwhile groups)."""
    writer = sqlite_writer(records)
    busy, release = threading.Event(), threading.Event()

    def block(_cursor: Cursor) -> None:
        busy.set()
        release.wait(10)

    holding = asyncio.ensure_future(writer.run(block))
    await asyncio.to_thread(busy.wait, 10)
    return release, holding


async def test_pages_queued_meanwhile_commit_in_one_transaction(
    database: Database, connections: ConnectionRepository
) -> None:
    records = RecordRepository(database)
    conn, _ = await link(connections)
    release, holding = await _hold_the_writer(records)
    before = sqlite_writer(records).commits
    pages = [asyncio.ensure_future(records.upsert_page(conn.pk, "Vendor", [vendor(n)])) for n in range(6)]
    await asyncio.sleep(0.05)
    assert not any(page.done() for page in pages)  # nothing is answered before its commit
    release.set()
    await holding
    assert await asyncio.gather(*pages) == [PageCounts(added=1)] * 6
    assert sqlite_writer(records).commits == before + 2  # the blocking call's, then the six pages'
    assert await records.counts(conn.pk) == {"Vendor": 6}


async def test_a_failing_page_is_rolled_back_alone(
    database: Database, connections: ConnectionRepository
) -> None:
    records = RecordRepository(database)
    conn, _ = await link(connections)
    release, holding = await _hold_the_writer(records)
    good = asyncio.ensure_future(records.upsert_page(conn.pk, "Vendor", [vendor(1)]))
    # A checkpoint for a sync the connection does not have: the page's rows must not stay.
    bad = asyncio.ensure_future(
        records.upsert_page(
            conn.pk, "Vendor", [vendor(2)], checkpoint=SyncCheckpoint("nope", {"updatedTime": "x"})
        )
    )
    also_good = asyncio.ensure_future(records.upsert_page(conn.pk, "Vendor", [vendor(3)]))
    release.set()
    await holding
    assert await good == PageCounts(added=1)
    with pytest.raises(NotFoundError):
        await bad
    assert await also_good == PageCounts(added=1)
    stored = await records.list(conn.pk, "Vendor")
    assert sorted(r["id"] for r in stored.records()) == [vendor(1)["id"], vendor(3)["id"]]
    assert await records.counts(conn.pk) == {"Vendor": 2}


async def test_a_caller_that_goes_away_does_not_stop_the_others(
    database: Database, connections: ConnectionRepository
) -> None:
    records = RecordRepository(database)
    conn, _ = await link(connections)
    release, holding = await _hold_the_writer(records)
    gone = asyncio.ensure_future(records.upsert_page(conn.pk, "Vendor", [vendor(1)]))
    stays = asyncio.ensure_future(records.upsert_page(conn.pk, "Vendor", [vendor(2)]))
    await asyncio.sleep(0)
    gone.cancel()
    release.set()
    await holding
    assert await stays == PageCounts(added=1)
    # The cancelled caller's page was queued already: it is written all the same, exactly once.
    assert await records.counts(conn.pk) == {"Vendor": 2}
