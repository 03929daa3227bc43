"""Priorities of the limits: live callers before syncs for slots, a live reserve and fair shares of
the hourly budget for syncs."""

from __future__ import annotations

import asyncio

import pytest

from billbridge.bill import BudgetSpentError, Limits
from billbridge.bill.limits import key_digest, next_minute

# 2030-01-01T10:20:00Z
NOW = 1893493200.0


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_freed_slot_goes_to_the_waiting_live_caller_first() -> None:
    limits = Limits()
    order: list[str] = []
    release = asyncio.Event()

    async def hold(name: str, priority: str) -> None:
        async with limits.slot("k", "org", priority=priority):  # type: ignore[arg-type]
            order.append(name)
            await release.wait()

    holders = [asyncio.create_task(hold(f"first-{i}", "live")) for i in range(3)]
    await _settle()
    sync = asyncio.create_task(hold("sync", "sync"))
    await _settle()
    live = asyncio.create_task(hold("live", "live"))
    await _settle()
    assert order == ["first-0", "first-1", "first-2"]
    assert limits.in_flight("k", "org") == 3
    release.set()
    await asyncio.gather(*holders, sync, live)
    assert order[3:] == ["live", "sync"]  # the sync caller queued first, yet went second
    assert limits.in_flight("k", "org") == 0


async def test_a_sync_caller_never_takes_a_slot_while_a_live_caller_waits() -> None:
    limits = Limits()
    slots = limits.org_slots("k", "org")
    for _ in range(3):
        await slots.acquire("live")
    waiting_live = asyncio.create_task(slots.acquire("live"))
    await _settle()
    slots.release()  # straight to the live waiter
    await waiting_live
    assert (slots.free, slots.waiting("live")) == (0, 0)
    waiting_sync = asyncio.create_task(slots.acquire("sync"))
    await _settle()
    assert not waiting_sync.done()
    slots.release()
    await waiting_sync
    for _ in range(3):
        slots.release()
    assert slots.free == 3


async def test_a_cancelled_waiter_leaves_no_trace() -> None:
    limits = Limits(max_in_flight=1)
    slots = limits.org_slots("k", "org")
    await slots.acquire()
    waiter = asyncio.create_task(slots.acquire())
    await _settle()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    slots.release()
    assert (slots.free, slots.waiting("live")) == (1, 0)
    async with limits.slot("k", "org"):  # taken at once: nobody is queued
        assert limits.in_flight("k", "org") == 1


async def test_syncs_leave_the_last_tenth_of_the_hour_to_live_callers() -> None:
    limits = Limits(requests_per_hour=100, clock=lambda: NOW)
    for _ in range(90):
        await limits.spend("k", "org", priority="sync")
    with pytest.raises(BudgetSpentError) as caught:
        await limits.spend("k", "org", priority="sync")
    assert caught.value.code == "sync_reserve"
    assert caught.value.reset_at == limits.reset_at()
    for _ in range(10):
        await limits.spend("k", "org")  # live callers still have their tenth
    with pytest.raises(BudgetSpentError) as spent:
        await limits.spend("k", "org")
    assert spent.value.code == "hourly_budget_spent"
    budget = await limits.budget("k")
    assert (budget.requests_left, budget.sync_requests_left, budget.logins_left) == (0, 0, 200)


async def test_syncing_organizations_share_the_sync_part_fairly() -> None:
    limits = Limits(requests_per_hour=100, clock=lambda: NOW)  # a sync part of 90
    for _ in range(40):
        await limits.spend("k", "busy", priority="sync")
    await limits.spend("k", "quiet", priority="sync")  # a second organization starts syncing
    for _ in range(5):
        await limits.spend("k", "busy", priority="sync")  # up to its half: 45
    with pytest.raises(BudgetSpentError) as caught:
        await limits.spend("k", "busy", priority="sync")
    assert caught.value.code == "sync_share_spent"
    assert caught.value.reset_at == next_minute(NOW)
    for _ in range(44):
        await limits.spend("k", "quiet", priority="sync")
    await limits.spend("k", "busy")  # live calls of either organization are not shared out
    assert (await limits.budget("k")).requests_left == 100 - 91


def test_in_flight_counts_never_show_a_developer_key() -> None:
    limits = Limits()
    limits.org_slots("secret-dev-key", "org").free -= 2
    assert limits.in_flight_counts() == {(key_digest("secret-dev-key"), "org"): 2}
    assert "secret-dev-key" not in repr(limits.in_flight_counts())
