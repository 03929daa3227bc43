"""Scheduled runs: the tick queues what is due, and a run queued after the sync stopped being due
(the tick read the schedule while the previous run was still going) changes nothing."""

from __future__ import annotations

from typing import Any

from dbos import DBOS
from sync_harness import SyncHarness

from billbridge.sync.engine import enqueue


async def _result(workflow_id: str | None) -> dict[str, Any]:
    assert workflow_id is not None
    result: dict[str, Any] = await (await DBOS.retrieve_workflow_async(workflow_id)).get_result()
    return result


async def test_a_scheduled_run_of_a_sync_no_longer_due_changes_nothing(harness: SyncHarness) -> None:
    conn = await harness.link()
    await harness.run(conn, "vendors")
    before = await harness.states.get(conn.pk, "vendors")
    requests = int((await harness.stats())["requests"])
    # What a tick that read the schedule before the first run finished queues afterwards.
    queued = await enqueue(conn.pk, "vendors", scheduled=True)
    assert await _result(queued.workflow_id) == {"skipped": "not_due"}
    assert int((await harness.stats())["requests"]) == requests
    assert await harness.states.get(conn.pk, "vendors") == before


async def test_the_tick_runs_a_sync_once_its_time_has_come(harness: SyncHarness) -> None:
    conn = await harness.link()
    await harness.run(conn, "vendors")
    assert await harness.engine.run_due() == []
    await harness.advance(3_601)  # vendors runs hourly
    [queued] = await harness.engine.run_due()
    assert queued.sync == "vendors"
    result = await _result(queued.workflow_id)
    assert result["counts"] == {"added": 0, "updated": 0, "deleted": 0}
    state = await harness.states.get(conn.pk, "vendors")
    assert state is not None
    assert state.sync_type == "INCREMENTAL"
