"""PostgreSQL: pages of one stream that queue while one is written go together, each counted alone."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import psycopg
import pytest
from store_samples import FakeClock, link

from billbridge.store import ConnectionRepository, Database, create_database
from billbridge.store.records import _BATCHES, PageCounts, RecordRepository
from billbridge.store.walks import WalkPosition

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_database_url: str) -> str:
    return postgres_database_url


def vendor(n: int, *, name: str | None = None) -> dict[str, Any]:
    return {
        "id": f"009{n:017d}",
        "name": name or f"Vendor {n}",
        "updatedTime": "2025-03-01T10:00:00.000+00:00",
    }


async def test_pages_that_queue_share_a_statement_and_keep_their_own_counts(
    database: Database, connections: ConnectionRepository, clock: FakeClock
) -> None:
    records = RecordRepository(database, clock=clock)
    conn, _ = await link(connections)
    await records.upsert_page(conn.pk, "Vendor", [vendor(0, name="Before")], run_id="run-1")
    pages = [
        [vendor(10 * page + n) for n in range(1, 4)] + ([vendor(0)] if page == 2 else []) for page in range(8)
    ]
    walks = [WalkPosition(f"walk-{page}", "run-1", step=1, next={"at": page}, pages=1) for page in range(8)]
    counts = await asyncio.gather(
        *(
            records.upsert_page(conn.pk, "Vendor", page, run_id="run-1", walk=walk)
            for page, walk in zip(pages, walks, strict=True)
        )
    )
    assert records._batches().batched >= 1  # the first page went alone, the others together
    expected = [PageCounts(added=3)] * 8
    expected[2] = PageCounts(added=3, updated=1)
    assert counts == expected
    assert await records.counts(conn.pk) == {"Vendor": 1 + 8 * 3}
    for page, walk in zip(pages, walks, strict=True):
        saved = await records.walk(walk.walk_id)
        added, updated = (3, 1) if page[-1]["id"] == vendor(0)["id"] else (3, 0)
        assert saved is not None
        assert saved.counts == {"added": added, "updated": updated, "deleted": 0}
    # Every record once, with seq numbers that never repeat.
    stored = (await records.list(conn.pk, "Vendor", limit=100)).records()
    assert len(stored) == 25
    cursors = [r["_nango_metadata"]["cursor"] for r in stored]
    assert len(set(cursors)) == 25


async def test_a_bad_page_in_a_batch_fails_alone(
    database: Database, connections: ConnectionRepository, clock: FakeClock
) -> None:
    records = RecordRepository(database, clock=clock)
    conn, _ = await link(connections)
    too_long = {"id": "9" * 600, "updatedTime": "2025-03-01T10:00:00Z"}  # the id column holds 512
    outcomes = await asyncio.gather(
        records.upsert_page(conn.pk, "Vendor", [vendor(1)]),
        records.upsert_page(conn.pk, "Vendor", [vendor(2)]),
        records.upsert_page(conn.pk, "Vendor", [vendor(3), too_long]),
        records.upsert_page(conn.pk, "Vendor", [vendor(4)]),
        return_exceptions=True,
    )
    assert outcomes[:2] == [PageCounts(added=1)] * 2
    assert isinstance(outcomes[2], psycopg.DataError)
    assert outcomes[3] == PageCounts(added=1)
    stored = (await records.list(conn.pk, "Vendor")).records()
    assert sorted(r["id"] for r in stored) == [vendor(n)["id"] for n in (1, 2, 4)]
    assert await records.counts(conn.pk) == {"Vendor": 3}


async def test_the_batches_do_not_keep_their_database_alive(
    database_url: str, connections: ConnectionRepository
) -> None:
    conn, _ = await link(connections)
    db = await create_database(database_url, run_migrations=False)
    await RecordRepository(db).upsert_page(conn.pk, "Vendor", [vendor(1)])
    assert db in _BATCHES
    gone = weakref.ref(db)
    await db.close()
    del db
    gc.collect()
    assert gone() is None
