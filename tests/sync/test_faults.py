"""Syncs against a misbehaving BILL: expired sessions, spent budgets, 5xx and timeouts, live traffic."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from dbos import DBOS
from sync_harness import SyncHarness, payloads

from billbridge.simulator import SimConfig

# Small budget: BDC_1144 arrives in the middle of the first run.
BUDGET = 12


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(records=1_200, organizations=2, seed=5, request_budget=BUDGET)


@pytest.fixture
def harness_options() -> dict[str, Any]:
    return {"max_retries": 6, "timeout": 0.5}


async def _wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_spent_budget_pauses_until_the_hour_then_resumes(harness: SyncHarness) -> None:
    conn = await harness.link()
    [queued] = await harness.engine.trigger(conn.pk, ["vendors"])
    assert queued.workflow_id is not None

    async def refused() -> bool:
        return int((await harness.stats())["errors"].get("BDC_1144", 0)) >= 1

    await _wait_for(refused)
    await asyncio.sleep(0.5)
    status = await DBOS.get_workflow_status_async(queued.workflow_id)
    assert status is not None
    assert status.status == "PENDING"  # paused, not failed
    stored_while_paused = len(await harness.stored(conn, "vendors"))
    assert 0 < stored_while_paused < 1_200
    for _ in range(40):  # every simulated hour gives BUDGET more requests
        await harness.advance(3_600)
        if (await DBOS.get_workflow_status_async(queued.workflow_id)).status == "SUCCESS":  # type: ignore[union-attr]
            break
        await asyncio.sleep(0.3)
    result = await (await DBOS.retrieve_workflow_async(queued.workflow_id)).get_result()
    assert result["records"] == 1_200
    assert payloads(await harness.stored(conn, "vendors")) == {
        r["id"]: r for r in await harness.sim_objects("vendors")
    }
    # Our own count kept us from asking again once BILL had said no.
    assert int((await harness.stats())["errors"]["BDC_1144"]) <= 3
