"""Steps that keep a sync's stored state in step with its run: begin, sweep, finish, fail.

What the sync API reports (status, type, latest result, next scheduled run) comes from here; the
run itself is also a DBOS workflow record, which is what makes it resumable.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dbos import DBOS

from billbridge.errors import BillbridgeError
from billbridge.store.sync_frequency import Frequency, parse_frequency
from billbridge.store.sync_state import (
    RunStatus,
    SyncCheckpoint,
    SyncResult,
    SyncState,
    SyncStateRepository,
)
from billbridge.sync import steps
from billbridge.sync.definitions import get_sync


def describe(exc: BaseException) -> str:
    """A message for the sync status: the error's own text for ours, only the type for others."""
    if isinstance(exc, BillbridgeError):
        return str(exc)
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, BillbridgeError):
        return str(cause)
    return f"the sync failed unexpectedly ({type(exc).__name__})"


async def ensure_state(
    states: SyncStateRepository, connection_pk: int, sync: str, frequency: Frequency | None = None
) -> None:
    """Create the sync's state (enabled, never run) unless it exists."""
    definition = get_sync(sync)
    every = frequency or parse_frequency(definition.frequency)
    await states.ensure(
        connection_pk, sync, model=definition.model, frequency=every.text, frequency_seconds=every.seconds
    )


def is_due(state: SyncState, now: datetime) -> bool:
    """Whether a scheduled run of the sync should happen at ``now``: enabled, and its time has come."""
    return state.enabled and (state.next_scheduled_at is None or state.next_scheduled_at <= now)


@DBOS.step(name="billbridge.sync.still_due")
async def still_due(connection_pk: int, sync: str) -> bool:
    """Whether the sync is due now (read again when the scheduled run starts)."""
    ctx = steps.context()
    state = await ctx.states.get(connection_pk, sync)
    return state is not None and is_due(state, ctx.clock())


@DBOS.step(name="billbridge.sync.begin")
async def begin_run(connection_pk: int, sync: str, run_id: str, full: bool) -> str | None:
    """Mark the run RUNNING and return the checkpoint it starts from (None: from the beginning)."""
    ctx = steps.context()
    await ensure_state(ctx.states, connection_pk, sync)
    if full:
        await ctx.states.reset(connection_pk, sync)
    state = await ctx.states.get(connection_pk, sync)
    checkpoint = state.checkpoint if state is not None else None
    since = checkpoint.get("updatedTime") if checkpoint else None
    # A list read whole never has a checkpoint: after its first successful run it is incremental too.
    succeeded = state is not None and state.latest_result is not None
    initial = full or (not since and not succeeded)
    await ctx.states.run_started(
        connection_pk, sync, run_id=run_id, sync_type="INITIAL" if initial else "INCREMENTAL"
    )
    return since if isinstance(since, str) else None


@DBOS.step(name="billbridge.sync.sweep")
async def sweep(connection_pk: int, sync: str, run_id: str) -> int:
    """Mark DELETED what this whole read did not see; returns how many."""
    ctx = steps.context()
    return await ctx.records.mark_missing_deleted(connection_pk, get_sync(sync).model, run_id)


async def _next_run(connection_pk: int, sync: str) -> Any:
    ctx = steps.context()
    state = await ctx.states.get(connection_pk, sync)
    seconds = (
        state.frequency_seconds if state is not None else parse_frequency(get_sync(sync).frequency).seconds
    )
    return ctx.clock() + timedelta(seconds=seconds)


async def _forget_walks() -> None:
    """The run is ending: the positions of its walks are not needed any more."""
    run_id = DBOS.workflow_id
    if run_id is not None:
        await steps.context().records.forget_walks(run_id)


@DBOS.step(name="billbridge.sync.finish")
async def finish_run(connection_pk: int, sync: str, counts: dict[str, int], high: str | None) -> None:
    """Mark the run SUCCESS with what it changed, and save the checkpoint the next run starts from."""
    ctx = steps.context()
    await _forget_walks()
    if high is not None:
        await ctx.states.save_checkpoint(
            connection_pk, SyncCheckpoint(name=sync, value={"updatedTime": high})
        )
    await ctx.states.run_finished(
        connection_pk,
        sync,
        status="SUCCESS",
        result=SyncResult(**counts),
        next_scheduled_at=await _next_run(connection_pk, sync),
    )


@DBOS.step(name="billbridge.sync.fail")
async def fail_run(connection_pk: int, sync: str, status: RunStatus, message: str, code: str) -> None:
    """Mark the run ERROR or STOPPED with ``message``; on rejected credentials, every sync of the
    connection is marked STOPPED, since none can run until it is re-linked."""
    ctx = steps.context()
    await _forget_walks()
    names = [sync]
    if code == "invalid_credentials":
        names = [state.name for state in await ctx.states.list(connection_pk=connection_pk)]
    for name in names:
        await ctx.states.run_finished(
            connection_pk,
            name,
            status=status,
            error=message,
            next_scheduled_at=await _next_run(connection_pk, name),
        )
