"""A trigger that arrives while a run of the same (connection, sync) is going leads to exactly one
more run after it, never to two at once; a trigger that finds a run waiting is served by it."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from dbos import DBOS, WorkflowStatus
from sync_harness import SyncHarness, payloads

from billbridge.store import Connection
from billbridge.sync.queueing import enqueue


async def _status(workflow_id: str) -> WorkflowStatus:
    status = await DBOS.get_workflow_status_async(workflow_id)
    assert status is not None
    return status


async def _span(workflow_id: str) -> tuple[int, int]:
    """When the run's first step began and its last one ended (times of the process that ran it;
    DBOS stamps a dequeue with its transaction's start, which may precede the previous run's end)."""
    recorded = await DBOS.list_workflow_steps_async(workflow_id, load_output=False)
    starts = [s["started_at_epoch_ms"] for s in recorded if s["started_at_epoch_ms"] is not None]
    ends = [s["completed_at_epoch_ms"] for s in recorded if s["completed_at_epoch_ms"] is not None]
    assert starts
    assert ends
    return min(starts), max(ends)


async def _running_with_a_page_stored(harness: SyncHarness, conn: Connection, workflow_id: str) -> None:
    for _ in range(600):
        status = await _status(workflow_id)
        assert status.status in ("ENQUEUED", "PENDING"), "the run ended before the test could trigger"
        if status.status == "PENDING" and await harness.stored(conn, "vendors"):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the run never stored a page")


async def _result(workflow_id: str) -> dict[str, Any]:
    handle = await DBOS.retrieve_workflow_async(workflow_id)
    result: dict[str, Any] = await handle.get_result()
    return result


async def test_a_trigger_during_a_run_gets_one_more_run_after_it(harness: SyncHarness) -> None:
    conn = await harness.link()
    # BILL slow enough that the run is still paging when the triggers come.
    (await harness.sim.post("/_sim/faults", json={"latency_ms": 150})).raise_for_status()
    [first] = await harness.engine.trigger(conn.pk, ["vendors"])
    assert first.new
    assert first.workflow_id is not None
    await _running_with_a_page_stored(harness, conn, first.workflow_id)
    # A change made while the run pages (it may or may not have read past it): the next run sees it.
    await harness.advance(1)
    [added] = await harness.mutate("vendors", "add", fields={"name": "Added During The Run"})

    [second] = await harness.engine.trigger(conn.pk, ["vendors"])
    [third] = await harness.engine.trigger(conn.pk, ["vendors"])

    assert second.new
    assert second.workflow_id not in (None, first.workflow_id)
    assert (third.new, third.workflow_id) == (False, second.workflow_id)
    assert second.workflow_id is not None
    assert (await _status(second.workflow_id)).status == "ENQUEUED"
    await _result(first.workflow_id)
    await _result(second.workflow_id)
    before, after = await _status(first.workflow_id), await _status(second.workflow_id)
    assert (before.status, after.status) == ("SUCCESS", "SUCCESS")
    assert (await _span(second.workflow_id))[0] >= (await _span(first.workflow_id))[1], "runs overlapped"
    stored = await harness.stored(conn, "vendors")
    assert stored[added["id"]]["_nango_metadata"]["last_action"] == "ADDED"
    assert payloads(stored) == {r["id"]: r for r in await harness.sim_objects("vendors")}
    # Nothing else was queued: exactly one more run.
    runs = await DBOS.list_workflows_async(
        workflow_id_prefix=f"sync:{conn.pk}:vendors:", name="billbridge.sync.run"
    )
    assert sorted(r.workflow_id for r in runs) == sorted([first.workflow_id, second.workflow_id])


async def test_a_full_refresh_is_not_served_by_an_incremental_run_waiting(harness: SyncHarness) -> None:
    conn = await harness.link()
    (await harness.sim.post("/_sim/faults", json={"latency_ms": 150})).raise_for_status()
    [first] = await harness.engine.trigger(conn.pk, ["vendors"])
    assert first.workflow_id is not None
    await _running_with_a_page_stored(harness, conn, first.workflow_id)

    [waiting] = await harness.engine.trigger(conn.pk, ["vendors"])
    [full] = await harness.engine.trigger(conn.pk, ["vendors"], full=True)
    [again] = await harness.engine.trigger(conn.pk, ["vendors"], full=True)
    [plain] = await harness.engine.trigger(conn.pk, ["vendors"])

    assert waiting.new
    assert full.new
    assert waiting.workflow_id != full.workflow_id
    assert not again.new
    assert again.workflow_id == full.workflow_id
    assert not plain.new
    assert plain.workflow_id == full.workflow_id
    assert full.workflow_id is not None
    assert waiting.workflow_id is not None
    assert (await _result(full.workflow_id))["full"] is True
    assert (await _result(waiting.workflow_id))["full"] is False
    spans = sorted([await _span(w) for w in (first.workflow_id, waiting.workflow_id, full.workflow_id)])
    for earlier, later in itertools.pairwise(spans):
        assert later[0] >= earlier[1], "two runs overlapped"


async def test_the_tick_does_not_queue_behind_a_running_run(harness: SyncHarness) -> None:
    conn = await harness.link()
    (await harness.sim.post("/_sim/faults", json={"latency_ms": 150})).raise_for_status()
    [first] = await harness.engine.trigger(conn.pk, ["vendors"])
    assert first.workflow_id is not None
    await _running_with_a_page_stored(harness, conn, first.workflow_id)

    scheduled = await enqueue(conn.pk, "vendors", scheduled=True)
    [triggered] = await harness.engine.trigger(conn.pk, ["vendors"])

    # The running run serves the tick (when it ends the sync is not due); a trigger still queues.
    assert (scheduled.new, scheduled.workflow_id) == (False, first.workflow_id)
    assert triggered.new
    assert triggered.workflow_id != first.workflow_id
    assert triggered.workflow_id is not None
    await _result(triggered.workflow_id)
