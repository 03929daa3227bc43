"""SQLite page writes that queue while the writer is busy commit together, each page on its own."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
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


@dataclass
class Held:
    """A repository whose writer's thread is busy until ``release`` is set, and a linked connection."""

    records: RecordRepository
    conn_pk: int
    release: threading.Event
    holding: asyncio.Future[None]

    async def let_go(self) -> None:
        self.release.set()
        await self.holding


@pytest.fixture
async def held(database: Database, connections: ConnectionRepository) -> Held:
    """The writer's thread occupied by a call that blocks (what queues meanwhile groups)."""
    records = RecordRepository(database)
    conn, _ = await link(connections)
    busy, release = threading.Event(), threading.Event()

    def block(_cursor: Cursor) -> None:
        busy.set()
        release.wait(10)

    holding = asyncio.ensure_future(sqlite_writer(records).run(block))
    await asyncio.to_thread(busy.wait, 10)
    return Held(records, conn.pk, release, holding)


async def test_pages_queued_meanwhile_commit_in_one_transaction(held: Held) -> None:
    records = held.records
    before = sqlite_writer(records).commits
    pages = [
        asyncio.ensure_future(records.upsert_page(held.conn_pk, "Vendor", [vendor(n)])) for n in range(6)
    ]
    await asyncio.sleep(0.05)
    assert not any(page.done() for page in pages)  # nothing is answered before its commit
    await held.let_go()
    assert await asyncio.gather(*pages) == [PageCounts(added=1)] * 6
    assert sqlite_writer(records).commits == before + 2  # the blocking call's, then the six pages'
    assert await records.counts(held.conn_pk) == {"Vendor": 6}


async def test_a_failing_page_is_rolled_back_alone(held: Held) -> None:
    records, pk = held.records, held.conn_pk
    good = asyncio.ensure_future(records.upsert_page(pk, "Vendor", [vendor(1)]))
    # A checkpoint for a sync the connection does not have: the page's rows must not stay.
    missing = SyncCheckpoint("nope", {"updatedTime": "x"})
    bad = asyncio.ensure_future(records.upsert_page(pk, "Vendor", [vendor(2)], checkpoint=missing))
    also_good = asyncio.ensure_future(records.upsert_page(pk, "Vendor", [vendor(3)]))
    await held.let_go()
    assert await good == PageCounts(added=1)
    with pytest.raises(NotFoundError):
        await bad
    assert await also_good == PageCounts(added=1)
    stored = await records.list(pk, "Vendor")
    assert sorted(r["id"] for r in stored.records()) == [vendor(1)["id"], vendor(3)["id"]]
    assert await records.counts(pk) == {"Vendor": 2}


async def test_a_caller_that_goes_away_does_not_stop_the_others(held: Held) -> None:
    records, pk = held.records, held.conn_pk
    gone = asyncio.ensure_future(records.upsert_page(pk, "Vendor", [vendor(1)]))
    stays = asyncio.ensure_future(records.upsert_page(pk, "Vendor", [vendor(2)]))
    await asyncio.sleep(0)
    gone.cancel()
    await held.let_go()
    assert await stays == PageCounts(added=1)
    # The cancelled caller's page was queued already: it is written all the same, exactly once.
    assert await records.counts(pk) == {"Vendor": 2}
