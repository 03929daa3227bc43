"""Live callers first across processes: on PostgreSQL a sync caller of one process never takes a
slot while a live caller of another process waits for one (``InFlightLeases``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import psycopg
import pytest

from billbridge.connections import InFlightLeases
from billbridge.connections.concurrency import live_waiting_key
from billbridge.store import Database
from fixtures_db import libpq_dsn

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_database_url: str) -> str:
    """Advisory locks need PostgreSQL."""
    return postgres_database_url


def _leases(database: Database, **options: float) -> InFlightLeases:
    leases = InFlightLeases.for_database(database, **options)  # type: ignore[arg-type]
    assert leases is not None
    return leases


async def _live_waiters(database: Database, dev_key: str, org: str) -> int:
    """Live callers announced as waiting for a slot of this organization (from ``pg_locks``)."""
    key = live_waiting_key(dev_key, org)
    async with await psycopg.AsyncConnection.connect(libpq_dsn(database.url), autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock' "
            "AND granted AND objsubid = 1 AND classid::bigint = %(high)s AND objid::bigint = %(low)s",
            {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},
        )
        row = await cursor.fetchone()
    return 0 if row is None else int(row[0])


async def _until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait until ``condition`` holds (it is about locks and tasks, not time: the loop is a guard)."""
    for _ in range(1000):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


def _announced(database: Database, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await _live_waiters(database, "key", "org") == count

    return check


def _entered(order: list[str], count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(order) == count

    return check


async def test_no_sync_caller_takes_a_free_slot_while_a_live_caller_is_announced(
    database: Database,
) -> None:
    # Another process's live caller waiting for a slot, as it announces itself.
    async with await psycopg.AsyncConnection.connect(libpq_dsn(database.url), autocommit=True) as other:
        await other.execute("SELECT pg_advisory_lock_shared(%s)", (live_waiting_key("key", "org"),))
        leases = _leases(database, slots=3, wait=0.3)
        try:
            with pytest.raises(Exception, match="slots stayed busy"):
                async with leases.hold("key", "org", priority="sync"):
                    pass
            async with leases.hold("key", "org") as slot:  # a live caller goes at once
                assert slot == 0
            await other.execute("SELECT pg_advisory_unlock_shared(%s)", (live_waiting_key("key", "org"),))
            async with leases.hold("key", "org", priority="sync") as slot:
                assert slot == 0
        finally:
            await leases.aclose()


async def test_a_freed_slot_goes_to_the_live_caller_of_another_process(database: Database) -> None:
    holder, live_process, sync_process = (_leases(database, slots=1, wait=10) for _ in range(3))
    order: list[str] = []
    free_holder, free_live = asyncio.Event(), asyncio.Event()

    async def hold(leases: InFlightLeases, name: str, priority: str, until: asyncio.Event | None) -> None:
        async with leases.hold("key", "org", priority=priority):  # type: ignore[arg-type]
            order.append(name)
            if until is not None:
                await until.wait()

    try:
        first = asyncio.create_task(hold(holder, "holder", "live", free_holder))
        await _until(_entered(order, 1))
        # The sync caller polls first; the live caller comes later and announces itself.
        sync = asyncio.create_task(hold(sync_process, "sync", "sync", None))
        await asyncio.sleep(0.05)
        live = asyncio.create_task(hold(live_process, "live", "live", free_live))
        await _until(_announced(database, 1))
        free_holder.set()
        await first
        await _until(_entered(order, 2))
        assert order == ["holder", "live"]
        assert not sync.done()  # still waiting: the slot went to the live caller
        assert await _live_waiters(database, "key", "org") == 0  # the announcement is withdrawn
        free_live.set()
        await asyncio.gather(live, sync)
        assert order == ["holder", "live", "sync"]
    finally:
        for leases in (holder, live_process, sync_process):
            await leases.aclose()


async def test_a_live_caller_that_gives_up_withdraws_its_announcement(database: Database) -> None:
    holder, waiter, syncer = (_leases(database, slots=1, wait=0.2) for _ in range(3))
    try:
        async with holder.hold("key", "org"):
            with pytest.raises(Exception, match="slots stayed busy"):
                async with waiter.hold("key", "org"):
                    pass
            assert await _live_waiters(database, "key", "org") == 0
            cancelled = asyncio.create_task(waiter.hold("key", "org").__aenter__())
            await _until(_announced(database, 1))
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cancelled
            await _until(_announced(database, 0))
        async with syncer.hold("key", "org", priority="sync") as slot:  # nobody waits any more
            assert slot == 0
    finally:
        for leases in (holder, waiter, syncer):
            await leases.aclose()
