"""SharedLimits: the hourly budgets of a developer key counted once for every process on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from billbridge.bill import BudgetSpentError
from billbridge.bill.limits import key_digest, next_minute
from billbridge.connections import InFlightLeases, SharedLimits
from billbridge.store import BudgetRepository, Database

pytestmark = pytest.mark.postgres

# 2030-01-01T10:20:00Z
NOW = 1893493200.0
HOUR = int(NOW // 3600)


@pytest.fixture
def database_url(postgres_database_url: str) -> str:
    return postgres_database_url


def _process(database: Database, *, requests_per_hour: int = 500) -> SharedLimits:
    leases = InFlightLeases.for_database(database)
    assert leases is not None
    return SharedLimits(
        leases, BudgetRepository(database), requests_per_hour=requests_per_hour, clock=lambda: NOW
    )


async def _spend_until_refused(limits: SharedLimits, **options: str) -> int:
    spent = 0
    while True:
        try:
            await limits.spend("dev-key", "org", **options)  # type: ignore[arg-type]
        except BudgetSpentError:
            return spent
        spent += 1


async def test_two_processes_never_spend_more_than_the_budget_together(database: Database) -> None:
    first, second = _process(database), _process(database)
    try:
        counts = await asyncio.gather(_spend_until_refused(first), _spend_until_refused(second))
        assert sum(counts) == 500
        assert min(counts) > 0  # both got their turn
        budget = await second.budget("dev-key")
        assert (budget.requests_left, budget.logins_left) == (0, 200)
        assert await BudgetRepository(database).read(key_digest("dev-key"), HOUR) == (500, 0)
    finally:
        await first.aclose()
        await second.aclose()


async def test_syncs_stop_at_the_live_reserve_across_processes(database: Database) -> None:
    first, second = _process(database), _process(database)
    try:
        synced = await asyncio.gather(
            _spend_until_refused(first, priority="sync"), _spend_until_refused(second, priority="sync")
        )
        with pytest.raises(BudgetSpentError) as caught:
            await first.spend("dev-key", "org", priority="sync")
        assert caught.value.code == "sync_reserve"
        # The live callers of both processes still find the last tenth (less what a process
        # reserved and its syncs could not use).
        live = await asyncio.gather(_spend_until_refused(first), _spend_until_refused(second))
        assert sum(synced) <= 450
        assert sum(synced) + sum(live) == 500
    finally:
        await first.aclose()
        await second.aclose()


async def test_logins_and_bill_refusals_count_for_every_process(database: Database) -> None:
    first, second = _process(database), _process(database)
    try:
        await first.spend("dev-key", "org", login=True)
        assert (await second.budget("dev-key")).logins_left == 199
        reset = await first.exhausted("dev-key")  # BILL answered BDC_1144
        with pytest.raises(BudgetSpentError) as caught:
            await second.spend("dev-key", "org")
        assert caught.value.reset_at == reset
        assert (await second.budget("dev-key")).requests_left == 0
    finally:
        await first.aclose()
        await second.aclose()


async def test_organizations_share_the_sync_part_fairly_across_processes(database: Database) -> None:
    # One process syncs a big organization; another starts syncing a second organization of the
    # same developer key: from then on each may spend half of the sync part (90 of 100).
    first, second = _process(database, requests_per_hour=100), _process(database, requests_per_hour=100)
    try:
        for _ in range(40):
            await first.spend("dev-key", "busy", priority="sync")
        await second.spend("dev-key", "quiet", priority="sync")
        for _ in range(5):
            await first.spend("dev-key", "busy", priority="sync")  # up to its half: 45
        with pytest.raises(BudgetSpentError) as caught:
            await first.spend("dev-key", "busy", priority="sync")
        assert caught.value.code == "sync_share_spent"
        assert caught.value.reset_at == next_minute(NOW)
        for _ in range(44):
            await second.spend("dev-key", "quiet", priority="sync")
        with pytest.raises(BudgetSpentError):
            await second.spend("dev-key", "quiet", priority="sync")
        await first.spend("dev-key", "busy")  # live calls are not shared out
        assert (await second.budget("dev-key")).requests_left == 100 - 91
    finally:
        await first.aclose()
        await second.aclose()


async def _settled(limits: SharedLimits) -> None:
    """Until the batches being reserved ahead are reserved."""
    for _ in range(200):
        await asyncio.sleep(0.01)
        if not limits._ahead:  # the background work this test waits for
            return
    raise AssertionError("a batch reserved ahead never finished")


async def test_batches_are_reserved_ahead_so_callers_do_not_wait_for_the_database(
    database: Database,
) -> None:
    limits = _process(database, requests_per_hour=20_000)
    repository = BudgetRepository(database)
    digest = key_digest("dev-key")
    try:
        for _ in range(9):
            await limits.spend("dev-key", "org", priority="sync")
        await _settled(limits)
        assert await repository.read(digest, HOUR) == (20, 0)  # more than half a batch left
        await limits.spend("dev-key", "org", priority="sync")
        await _settled(limits)
        assert await repository.read(digest, HOUR) == (40, 0)  # the next batch, in the background
        reserved: list[int] = []
        original = repository.reserve

        async def watched(*args: object, **kwargs: object) -> int | None:
            reserved.append(1)
            return await original(*args, **kwargs)  # type: ignore[arg-type]

        limits._budgets.reserve = watched  # type: ignore[method-assign]
        for _ in range(11):  # the rest of the first batch, and the first of the one reserved ahead
            await limits.spend("dev-key", "org", priority="sync")
        assert reserved == []
        await _settled(limits)
        # The organization's fair share was reserved ahead the same way.
        async with database.session() as session:
            spent = (
                await session.execute(
                    text("SELECT spent FROM bill_sync_shares WHERE organization_id = 'org'")
                )
            ).scalar_one()
        assert spent == 40
    finally:
        await limits.aclose()
