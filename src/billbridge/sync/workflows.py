"""Sync runs as DBOS workflows: a run walks its list page by page (several pages a step), a large first
run fans out into window workflows paged side by side (a window splits off new ones while BILL's
slots would sit idle), and a spent budget pauses the run durably.

Workflows must be deterministic: everything that touches the world (BILL, the database, the clock)
happens in steps, whose outputs DBOS records and replays on recovery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from dbos import DBOS, SetWorkflowID, WorkflowHandleAsync

from billbridge.sync import notify, runstate, steps
from billbridge.sync.cursor import Cursor, parse_time, settle, start
from billbridge.sync.definitions import get_sync
from billbridge.sync.fetch import SyncStopped
from billbridge.sync.windows import split

RUN_WORKFLOW: Final = "billbridge.sync.run"
WINDOW_WORKFLOW: Final = "billbridge.sync.window"


def _add(total: dict[str, int], counts: dict[str, int]) -> dict[str, int]:
    return {key: total.get(key, 0) + counts.get(key, 0) for key in ("added", "updated", "deleted")}


async def _pause(until: str) -> None:
    """Sleep durably until ``until`` (engine clock), in slices so a moved clock is noticed."""
    ctx = steps.context()
    while True:
        left = steps.remaining(until, datetime.fromisoformat(await steps.now_text()))
        if left <= 0:
            return
        await DBOS.sleep_async(min(left, ctx.pause_poll))


async def _walk(
    connection_pk: int, sync: str, cursor: Cursor, run_id: str, *, save_checkpoint: bool, split: bool = False
) -> tuple[dict[str, int], str | None, int]:
    """Page from ``cursor`` to the end of its walk: (counts, high-water mark, records stored).

    With ``split`` (a window), a step may hand the second half of the range left to a new window
    (see ``windows.py``); the walk starts it, goes on with the first half, and adds the new
    windows' results to its own once its own pages are done.
    """
    totals: dict[str, int] = {}
    high = cursor.high
    stored = 0
    at: dict[str, Any] | None = cursor.to_json()
    spawned: list[WorkflowHandleAsync[dict[str, Any]]] = []
    while at is not None:
        result = await steps.store_page(connection_pk, sync, at, run_id, save_checkpoint, split=split)
        if "pause_until" in result:
            await _pause(result["pause_until"])
            continue
        totals = _add(totals, result["counts"])
        stored += result["records"]
        high = _later(high, result["high"])
        at = result["next"]
        spawn = result.get("spawn")
        if spawn is not None:
            # The id comes from the recorded step output: a replay finds the same child.
            with SetWorkflowID(spawn["id"]):
                spawned.append(
                    await DBOS.start_workflow_async(window_run, connection_pk, sync, spawn["cursor"], run_id)
                )
    for handle in spawned:
        part = await handle.get_result()
        totals = _add(totals, part["counts"])
        high = _later(high, part["high"])
        stored += part["records"]
    return totals, high, stored


def _later(a: str | None, b: str | None) -> str | None:
    ta, tb = parse_time(a), parse_time(b)
    if tb is None:
        return a
    return b if ta is None or tb > ta else a


@DBOS.workflow(name=WINDOW_WORKFLOW)
async def window_run(connection_pk: int, sync: str, cursor: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Page one ``updatedTime`` window of a large first run, and the windows split off it."""
    totals, high, stored = await _walk(
        connection_pk, sync, Cursor.from_json(cursor), run_id, save_checkpoint=False, split=True
    )
    return {"counts": totals, "high": high, "records": stored}


async def _first_run(connection_pk: int, sync: str, run_id: str) -> tuple[dict[str, int], str | None, int]:
    """Read a list from the start: one page, then windows side by side if there is more."""
    ctx = steps.context()
    while True:
        # One page first: when there is more, the windows page the rest side by side.
        first = await steps.store_page(connection_pk, sync, Cursor().to_json(), run_id, False, 1)
        if "pause_until" not in first:
            break
        await _pause(first["pause_until"])
    totals, high, stored = first["counts"], first["high"], first["records"]
    if first["next"] is None:
        return totals, high, stored
    after = Cursor.from_json(first["next"])
    newest: dict[str, Any] = {"pause_until": None}
    while "pause_until" in newest:
        newest = await steps.newest_time(connection_pk, sync)
        if "pause_until" in newest:
            await _pause(newest["pause_until"])
    handles = [
        await DBOS.start_workflow_async(window_run, connection_pk, sync, window.to_json(), run_id)
        for window in split(after, newest["newest"], count=ctx.windows)
    ]
    for handle in handles:
        part = await handle.get_result()
        totals = _add(totals, part["counts"])
        high = _later(high, part["high"])
        stored += part["records"]
    return totals, high, stored


@DBOS.workflow(name=RUN_WORKFLOW)
async def sync_run(connection_pk: int, sync: str, full: bool, scheduled: bool = False) -> dict[str, Any]:
    """One run of ``sync`` for a connection: incremental from its checkpoint, or whole.

    A first run (no checkpoint) or a full refresh reads the list from the start, in windows when
    large; a full refresh, and every run of a list BILL cannot filter by time, then marks as
    DELETED what the run did not see. Returns ``{counts, records, checkpoint}``.

    A ``scheduled`` run (queued by the tick) first checks that the sync is still due: the tick
    reads the schedule, then queues, and a run that finished in between (a new connection's first
    run, a triggered one) has moved the next run an interval on. Such a run ends at once as
    ``{skipped: "not_due"}``, changing nothing.
    """
    run_id = DBOS.workflow_id
    assert run_id is not None
    if scheduled and not await runstate.still_due(connection_pk, sync):
        return {"skipped": "not_due"}
    started = await steps.now_text()
    try:
        outcome = await _run(connection_pk, sync, full, run_id)
    except SyncStopped as exc:
        await runstate.fail_run(connection_pk, sync, "STOPPED", exc.message, exc.code)
        await _notify(
            connection_pk,
            sync,
            {"success": False, "error": exc.message, "code": exc.code, "started_at": started},
        )
        return {"stopped": exc.code}
    except Exception as exc:
        message = runstate.describe(exc)
        await runstate.fail_run(connection_pk, sync, "ERROR", message, "sync_failed")
        await _notify(
            connection_pk,
            sync,
            {"success": False, "error": message, "code": "sync_failed", "started_at": started},
        )
        raise
    if any(outcome["counts"].values()):
        await _notify(connection_pk, sync, {"success": True, **outcome, "started_at": started})
    return outcome


async def _notify(connection_pk: int, sync: str, outcome: dict[str, Any]) -> None:
    """Start the webhook's own workflow (durable: recorded as a child of this run)."""
    if steps.context().webhook is None:
        return
    outcome["finished_at"] = await steps.now_text()
    await DBOS.start_workflow_async(notify.deliver, connection_pk, sync, outcome)


async def _run(connection_pk: int, sync: str, full: bool, run_id: str) -> dict[str, Any]:
    definition = get_sync(sync)
    checkpoint = await runstate.begin_run(connection_pk, sync, run_id, full)
    if definition.filtered:
        totals, high, stored = await _filtered_walk(connection_pk, sync, checkpoint, run_id)
    elif not definition.incremental:
        totals, high, stored = await _walk(connection_pk, sync, Cursor(), run_id, save_checkpoint=False)
    elif checkpoint is None:
        totals, high, stored = await _first_run(connection_pk, sync, run_id)
    else:
        ctx = steps.context()
        cursor = start(checkpoint, overlap=ctx.overlap)
        totals, high, stored = await _walk(connection_pk, sync, cursor, run_id, save_checkpoint=True)
    if full or not definition.keeps_checkpoint:
        deleted = await runstate.sweep(connection_pk, sync, run_id)
        totals = _add(totals, {"deleted": deleted})
    await runstate.finish_run(connection_pk, sync, totals, high if definition.keeps_checkpoint else None)
    return {"counts": totals, "records": stored, "checkpoint": high, "full": full}


async def _filtered_walk(
    connection_pk: int, sync: str, checkpoint: str | None, run_id: str
) -> tuple[dict[str, int], str | None, int]:
    """Read what changed since ``checkpoint`` (everything if None) from a list BILL filters by
    ``updatedTime`` but cannot sort by it; the checkpoint reaches back by the walk's length."""
    cursor = Cursor() if checkpoint is None else start(checkpoint, overlap=steps.context().overlap)
    began = await steps.now_text()
    totals, high, stored = await _walk(connection_pk, sync, cursor, run_id, save_checkpoint=False)
    walked = datetime.fromisoformat(await steps.now_text()) - datetime.fromisoformat(began)
    return totals, settle(high, walked.total_seconds(), floor=checkpoint), stored
