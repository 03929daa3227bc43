"""BudgetRepository: hourly counts per developer key digest, never over the cap, whoever counts."""

from __future__ import annotations

import asyncio

from billbridge.store import BudgetRepository, Database

HOUR = 490_000


async def test_reservations_stop_at_the_cap(database: Database) -> None:
    budgets = BudgetRepository(database)
    assert await budgets.reserve("k", HOUR, 20, cap=50) == 20
    assert await budgets.reserve("k", HOUR, 20, cap=50) == 40
    assert await budgets.reserve("k", HOUR, 20, cap=50) is None  # 60 would be over
    assert await budgets.reserve("k", HOUR, 10, cap=50) == 50
    assert await budgets.reserve("k", HOUR, 1, cap=50) is None
    assert await budgets.read("k", HOUR) == (50, 0)
    assert await budgets.read("k", HOUR + 1) == (0, 0)  # a new hour starts empty
    assert await budgets.read("other", HOUR) == (0, 0)


async def test_concurrent_reservations_never_overshoot(database: Database) -> None:
    budgets = BudgetRepository(database)
    results = await asyncio.gather(*(budgets.reserve("k", HOUR, 3, cap=40) for _ in range(30)))
    granted = [r for r in results if r is not None]
    assert len(granted) == 13  # 13 x 3 = 39; a 14th would make 42
    assert sorted(granted) == list(range(3, 40, 3))
    assert await budgets.read("k", HOUR) == (39, 0)


async def test_logins_count_as_requests_and_have_their_own_cap(database: Database) -> None:
    budgets = BudgetRepository(database)
    assert await budgets.count_login("k", HOUR, cap=10, login_cap=2)
    assert await budgets.count_login("k", HOUR, cap=10, login_cap=2)
    assert not await budgets.count_login("k", HOUR, cap=10, login_cap=2)
    assert await budgets.read("k", HOUR) == (2, 2)
    assert await budgets.reserve("k", HOUR, 8, cap=10) == 10


async def test_exhaust_raises_counts_and_purge_forgets_old_hours(database: Database) -> None:
    budgets = BudgetRepository(database)
    await budgets.reserve("k", HOUR, 5, cap=100)
    await budgets.exhaust("k", HOUR, requests=100, logins=None)
    assert await budgets.read("k", HOUR) == (100, 0)
    await budgets.exhaust("k", HOUR, requests=None, logins=200)
    await budgets.exhaust("fresh", HOUR, requests=None, logins=200)
    assert await budgets.read("k", HOUR) == (100, 200)
    assert await budgets.read("fresh", HOUR) == (0, 200)
    await budgets.purge(HOUR + 1)
    assert await budgets.read("k", HOUR) == (0, 0)
