"""Syncs keep going through an expiring session, failing requests and live proxied traffic."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sync_harness import SyncHarness, payloads

from billbridge.simulator import SimConfig

RECORDS = 1_500


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(records=RECORDS, organizations=2, seed=9, latency_ms=5)


@pytest.fixture
def harness_options() -> dict[str, Any]:
    return {"max_retries": 6, "timeout": 2.0}


async def test_a_run_longer_than_the_session_renews_it_with_one_login(harness: SyncHarness) -> None:
    conn = await harness.link()
    logins = int((await harness.stats())["logins"])
    moved: list[asyncio.Task[None]] = []

    def after_page(connection_pk: int, sync: str, records: int) -> None:
        if not moved:  # 36 simulated minutes pass after the first stored page: the session dies
            moved.append(asyncio.ensure_future(harness.advance(36 * 60)))

    harness.context.progress.append(after_page)
    await harness.run(conn, "bills")
    assert moved
    assert int((await harness.stats())["logins"]) - logins == 1
    assert payloads(await harness.stored(conn, "bills")) == {
        r["id"]: r for r in await harness.sim_objects("bills")
    }


async def test_injected_errors_and_timeouts_still_yield_every_record(harness: SyncHarness) -> None:
    conn = await harness.link()
    faults = {"error_rate": 0.1, "timeout_rate": 0.05, "timeout_seconds": 3.0}
    (await harness.sim.post("/_sim/faults", json=faults)).raise_for_status()
    await harness.run(conn, "invoices")
    await harness.run(conn, "roles")
    (await harness.sim.post("/_sim/faults", json={"error_rate": 0, "timeout_rate": 0})).raise_for_status()
    errors = (await harness.stats())["errors"]
    assert sum(int(n) for n in errors.values()) > 0
    for name in ("invoices", "roles"):
        assert payloads(await harness.stored(conn, name)) == {
            r["id"]: r for r in await harness.sim_objects(name)
        }


async def test_proxied_calls_flow_during_syncs_and_bill_never_sees_a_fourth_request(
    harness: SyncHarness,
) -> None:
    conn = await harness.link()
    (await harness.sim.post("/_sim/faults", json={"latency_ms": 20})).raise_for_status()
    syncs = asyncio.gather(*(harness.run(conn, name) for name in ("vendors", "bills", "customers")))

    async def proxied() -> int:
        answer = await harness.proxy.forward(conn, method="GET", path="/v3/vendors", query=[("max", "5")])
        return answer.status

    statuses: list[int] = []
    while not syncs.done():
        statuses += await asyncio.gather(*(proxied() for _ in range(4)))
    await syncs
    assert len(statuses) >= 8
    assert set(statuses) == {200}
    stats = await harness.stats()
    # The simulator refuses a fourth request (BDC_1322) instead of counting it in its peak.
    assert stats["errors"].get("BDC_1322", 0) == 0
    assert int(stats["peak_in_flight"]) == 3  # the syncs and proxied calls did fill every slot
