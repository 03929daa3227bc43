"""A run's progress (pages and records stored) is read from DBOS's records of its steps, so a
command can follow a run that any process runs, windows of a large first read included."""

from __future__ import annotations

from sync_harness import SyncHarness

from billbridge.sync.progress import RunProgress


async def test_progress_counts_the_pages_of_the_run_and_of_its_windows(harness: SyncHarness) -> None:
    conn = await harness.link()
    listed = await harness.sim_objects("vendors")
    before = (await harness.stats())["requests"]
    [queued] = await harness.engine.trigger(conn.pk, ["vendors"])
    assert queued.workflow_id is not None
    progress = RunProgress(queued.workflow_id)
    await progress.refresh()  # nothing or part of it yet: counted once, not again below
    result = await harness.run_result(queued.workflow_id)
    await progress.refresh()

    assert progress.records == result["records"] == len(listed)
    # One page step per list request, minus the one that read the newest time to cut windows.
    assert progress.pages == (await harness.stats())["requests"] - before - 1
    assert progress.pages > 3  # the first page, then windows side by side
    await progress.refresh()
    assert progress.records == len(listed)
