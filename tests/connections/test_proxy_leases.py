"""BILL's 3-in-flight limit across processes on PostgreSQL: ``SharedLimits`` (advisory-lock leases),
taken by every BILL request (proxied calls, logins, session-info and MFA calls alike)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest
from keeper_harness import Harness, OtherProcess

from billbridge.bill import Limits
from billbridge.connections import InFlightLeases, SharedLimits
from billbridge.connections.concurrency import slot_base
from billbridge.store import BudgetRepository, Connection, Database, create_database


def shared(database: Database, **options: float) -> SharedLimits:
    leases = InFlightLeases.for_database(database, **options)  # type: ignore[arg-type]
    assert leases is not None
    return SharedLimits(leases, BudgetRepository(database))


@pytest.fixture
def database_url(postgres_database_url: str) -> str:
    """Every harness of this module runs on PostgreSQL (advisory locks need it)."""
    return postgres_database_url


async def _burst(processes: list[OtherProcess], conn: Connection, per_process: int) -> list[int]:
    """Proxied reads from every process at once; the status of each."""
    answers = await asyncio.gather(
        *(
            p.proxy.forward(conn, method="GET", path="/v3/vendors", query=[("max", "1")])
            for p in processes
            for _ in range(per_process)
        )
    )
    return [a.status for a in answers]


@pytest.mark.postgres
async def test_two_processes_never_exceed_three_in_flight(
    harness: Harness, conn: Connection, database: Database
) -> None:
    processes = [harness.other_process(shared(database)) for _ in range(2)]
    try:
        (await harness.sim.post("/_sim/faults", json={"latency_ms": 30})).raise_for_status()
        statuses = await _burst(processes, conn, 9)
        stats = await harness.stats()
    finally:
        for p in processes:
            await p.aclose()
    assert statuses == [200] * 18
    assert stats["peak_in_flight"] <= 3
    assert "BDC_1322" not in stats["errors"]


@pytest.mark.postgres
async def test_without_leases_two_processes_overrun_bill(harness: Harness, conn: Connection) -> None:
    # The control case: what the leases prevent (each process alone keeps its own 3).
    processes = [harness.other_process(Limits()) for _ in range(2)]
    try:
        (await harness.sim.post("/_sim/faults", json={"latency_ms": 30})).raise_for_status()
        statuses = await _burst(processes, conn, 9)
    finally:
        for p in processes:
            await p.aclose()
    assert any(status != 200 for status in statuses)
    assert "BDC_1322" in (await harness.stats())["errors"]


@pytest.mark.postgres
async def test_slots_of_one_organization_are_shared(database: Database) -> None:
    leases = [InFlightLeases.for_database(database, slots=2, wait=0.2) for _ in range(2)]
    first, second = (lease for lease in leases if lease is not None)
    try:
        async with first.hold("key", "org") as a, second.hold("key", "org") as b:
            assert {a, b} == {0, 1}
            with pytest.raises(Exception, match="slots stayed busy"):
                async with second.hold("key", "org"):
                    pass
            async with first.hold("key", "other-org") as c:
                assert c == 0
        async with second.hold("key", "org") as again:  # freed on exit
            assert again in (0, 1)
    finally:
        await first.aclose()
        await second.aclose()


@pytest.mark.postgres
async def test_a_slot_given_back_is_free_to_the_next_caller_of_the_process(database: Database) -> None:
    # One process, many callers queued for 3 slots: each waiter gets the slot only once the lock is
    # given back too, so it wins it at its first try (a lost try backs off for milliseconds).
    limits = shared(database)
    leases = limits._leases
    holding = 0
    most = 0

    async def call() -> None:
        nonlocal holding, most
        async with limits.slot("key", "org", priority="sync"):
            holding += 1
            most = max(most, holding)
            await asyncio.sleep(0.002)
            holding -= 1

    try:
        await asyncio.gather(*(call() for _ in range(60)))
    finally:
        await limits.aclose()
    assert most == 3
    assert leases.busy_polls == 0
    # Each waiter took the connection of the request before it: unlock and attempt in one trip.
    assert leases.handed_on >= 50


@pytest.mark.postgres
async def test_a_connection_handed_on_to_nobody_gives_its_lock_back(database: Database) -> None:
    leases = InFlightLeases.for_database(database)
    other = InFlightLeases.for_database(database, wait=0.5)
    assert leases is not None
    assert other is not None
    freed: list[bool] = []
    try:
        # The caller said to be waiting went away: the lock must not stay held by the process.
        async with leases.hold("key", "org", then=lambda: freed.append(True), waiting=lambda: True):
            pass
        assert freed == [True]
        await asyncio.sleep(0.05)
        async with AsyncExitStack() as held:  # every slot is free again, to another process
            slots = [await held.enter_async_context(other.hold("key", "org")) for _ in range(3)]
        assert sorted(slots) == [0, 1, 2]
        assert leases.handed_on == 0
    finally:
        await leases.aclose()
        await other.aclose()


@pytest.mark.postgres
async def test_mfa_and_keeper_calls_during_a_burst_never_make_a_fourth(
    harness: Harness, conn: Connection, database: Database
) -> None:
    # One process proxies a burst; the other renews the session, extends it with a session-info
    # call and asks for an MFA code meanwhile: every one of those is a BILL request of the
    # organization, and all of them share its 3 slots.
    burst, side = (harness.other_process(shared(database)) for _ in range(2))
    client = side.clients.for_integration("bill-sandbox")

    async def side_calls() -> None:
        await asyncio.sleep(0.05)
        await side.keeper.refresh(conn)  # a login
        await harness.advance(25 * 60)
        await side.keeper.live_session(conn, min_validity=timedelta(minutes=15))  # session info
        await client.mfa_challenge(side.keeper.auth(conn))

    try:
        (await harness.sim.post("/_sim/faults", json={"latency_ms": 30})).raise_for_status()
        before = await harness.stats()
        statuses, _ = await asyncio.gather(_burst([burst, burst], conn, 12), side_calls())
        stats = await harness.stats()
    finally:
        await burst.aclose()
        await side.aclose()
    assert statuses == [200] * 24
    assert stats["logins"] == before["logins"] + 1
    assert len((await harness.sim.get("/_sim/mfa/codes")).json()["codes"]) == 1
    assert stats["peak_in_flight"] <= 3
    assert "BDC_1322" not in stats["errors"]


def test_lock_keys_leave_room_for_the_slots() -> None:
    base = slot_base("dev-key", "00801ABCDEFGHIJKLMNO")
    assert base % 16 == 0
    assert base != slot_base("dev-key", "00801ABCDEFGHIJKLMNP")


async def test_no_leases_on_sqlite(sqlite_database_url: str) -> None:
    db = await create_database(sqlite_database_url, run_migrations=False)
    try:
        assert InFlightLeases.for_database(db) is None
    finally:
        await db.close()
