"""BILL's 3-in-flight limit across processes on PostgreSQL (advisory-lock leases)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from keeper_harness import Harness, integrations

from billbridge.bill import HttpxTransport, Limits
from billbridge.connections import BillClients, InFlightLeases, Proxy, SessionKeeper
from billbridge.connections.concurrency import slot_base
from billbridge.store import Connection, Database, create_database


class OtherProcess:
    """What a second API process has: its own limits, clients, keeper and proxy."""

    def __init__(self, harness: Harness, *, leases: InFlightLeases | None) -> None:
        self.clients = BillClients(
            integrations(),
            transport_factory=lambda _: HttpxTransport(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.app))
            ),
            limits=Limits(),
            max_retries=0,
        )
        self.keeper = SessionKeeper(harness.repo, self.clients, clock=harness.clock)
        self.proxy = Proxy(self.keeper, self.clients, leases=leases)

    async def aclose(self) -> None:
        await self.proxy.aclose()
        await self.keeper.aclose()
        await self.clients.aclose()


@pytest.fixture
def database_url(postgres_database_url: str) -> str:
    """Every harness of this module runs on PostgreSQL (advisory locks need it)."""
    return postgres_database_url


async def _burst(processes: list[OtherProcess], conn: Connection, per_process: int) -> list[int]:
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
    processes = [OtherProcess(harness, leases=InFlightLeases.for_database(database)) for _ in range(2)]
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
    processes = [OtherProcess(harness, leases=None) for _ in range(2)]
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
