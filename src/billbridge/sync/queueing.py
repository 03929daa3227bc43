"""Queueing sync runs: one at a time per (connection, sync), and a trigger is never lost.

Runs go through one DBOS queue partitioned by (connection, sync) with a partition concurrency of
one: DBOS starts a partition's next run only when no run of it is PENDING, across every process
sharing the system database. That is the "never two at once".

A trigger that arrives while a run is going (running, or finishing its last steps) must still be
honoured: the run may already have read past the change that prompted the trigger. So it queues
one run behind the current one, and a trigger that finds a run already waiting is answered by it
(that run has not started, so it will see everything). At most one run waits per partition.

Run workflow ids are ``sync:<connection>:<sync>:<n>`` with ``n`` counting up. The next run's id is
derived from the latest one, and queued with DBOS's "reject" reuse policy: two processes that
trigger at once derive the same id, DBOS creates it once, and the other learns it was already
queued. DBOS's deduplication ids cannot serve here: DBOS refuses them on partitioned queues, and
they would drop a trigger that arrives while a run is running.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from dbos import DBOS, SetEnqueueOptions, SetWorkflowID, WorkflowStatus
from dbos._error import DBOSWorkflowIDInUseError

from billbridge.sync import steps
from billbridge.sync.definitions import get_sync
from billbridge.sync.workflows import RUN_WORKFLOW, sync_run

QUEUE: Final = "billbridge-syncs"
# The periodic tick has a queue of its own: every enqueue on the partitioned sync queue needs a
# partition key, and the tick belongs to no (connection, sync).
TICK_QUEUE: Final = "billbridge-sync-ticks"
# Enough for racing triggers to settle, and to step over the few numbers of runs that ended
# without beginning (a scheduled run no longer due, a cancelled one).
_ATTEMPTS: Final = 8


def run_prefix(connection_pk: int, sync: str) -> str:
    """What every run workflow id of a (connection, sync) starts with (``sync:7:vendors:``)."""
    return f"sync:{connection_pk}:{sync}:"


def partition_key(connection_pk: int, sync: str) -> str:
    """The queue partition of a (connection, sync): at most one of its runs is PENDING at a time."""
    return f"{connection_pk}:{sync}"


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What a trigger did for one sync: the run that will serve it, and whether it was queued now
    (False: a run already waiting serves it)."""

    sync: str
    workflow_id: str | None
    new: bool = True

    @property
    def already_running(self) -> bool:
        return not self.new


@dataclass(frozen=True, slots=True)
class _Run:
    workflow_id: str
    number: int
    status: str
    full: bool
    scheduled: bool


def _number(workflow_id: str, prefix: str) -> int:
    tail = workflow_id.removeprefix(prefix)
    return int(tail) if tail.isdigit() else 0


def _as_run(found: WorkflowStatus, prefix: str) -> _Run:
    args = tuple(found.input["args"]) if found.input is not None else ()
    return _Run(
        workflow_id=found.workflow_id,
        number=_number(found.workflow_id, prefix),
        status=found.status,
        full=bool(args[2]) if len(args) > 2 else False,
        scheduled=bool(args[3]) if len(args) > 3 else False,
    )


async def runs_in_flight(connection_pk: int, sync: str) -> list[_Run]:
    """The (connection, sync)'s runs queued or running, oldest first (on DBOS's in-flight index)."""
    prefix = run_prefix(connection_pk, sync)
    found = await DBOS.list_workflows_async(
        workflow_id_prefix=prefix,
        queue_name=QUEUE,
        status=["ENQUEUED", "PENDING"],
        name=RUN_WORKFLOW,
        load_output=False,
    )
    return sorted((_as_run(f, prefix) for f in found), key=lambda r: r.number)


@DBOS.step(name="billbridge.sync.last_started")
async def _last_started(connection_pk: int, sync: str) -> str | None:
    """The workflow id of the sync's last run that began (its state says), if any."""
    state = await steps.context().states.get(connection_pk, sync)
    return state.run_id if state is not None else None


def _served_by(latest: _Run, *, full: bool, scheduled: bool) -> bool:
    """Whether ``latest`` already gives what this request asks, so no run need be queued."""
    if latest.status == "ENQUEUED":
        # A waiting run has not read anything yet. A scheduled one may end at once as "not due",
        # so it serves only the tick; a full refresh is served only by a full one.
        return scheduled or (not latest.scheduled and (latest.full or not full))
    # Running: the tick does not queue behind it (when it ends the sync is no longer due); a
    # trigger does, since the run may have read past what the trigger is about.
    return scheduled


async def enqueue(connection_pk: int, sync: str, *, full: bool = False, scheduled: bool = False) -> Enqueued:
    """Queue a run unless one already waiting serves this request (see the module docstring).

    The next run's number follows the latest run in flight, else the last run that began (its
    sync state says; reading DBOS's whole history by id prefix would not use an index). A number
    already taken by a finished run (one that ended before it began) moves on to the next.

    ``scheduled``: queued because the sync was due; the run skips itself if it is not any more.
    """
    get_sync(sync)
    queue = await DBOS.retrieve_queue_async(QUEUE)
    if queue is None:
        raise RuntimeError("the sync queue is not registered; start the sync engine first")
    prefix = run_prefix(connection_pk, sync)
    taken = 0
    workflow_id = None
    for _ in range(_ATTEMPTS):
        flying = await runs_in_flight(connection_pk, sync)
        if flying and _served_by(flying[-1], full=full, scheduled=scheduled):
            return Enqueued(sync, flying[-1].workflow_id, new=False)
        if flying:
            latest = flying[-1].number
        else:
            latest = _number(await _last_started(connection_pk, sync) or "", prefix)
        number = max(latest, taken) + 1
        workflow_id = f"{prefix}{number}"
        try:
            with (
                SetWorkflowID(workflow_id, workflow_id_reuse_policy="reject"),
                SetEnqueueOptions(queue_partition_key=partition_key(connection_pk, sync)),
            ):
                handle = await queue.enqueue_async(sync_run, connection_pk, sync, full, scheduled)
        except DBOSWorkflowIDInUseError as exc:
            if exc.workflow_status not in ("ENQUEUED", "PENDING"):
                taken = number  # a finished run has it: try the next number
            # else another process queued it a moment ago: look again (it may serve this request)
            continue
        return Enqueued(sync, handle.workflow_id)
    return Enqueued(sync, workflow_id, new=False)


async def current_run(connection_pk: int, sync: str) -> str | None:
    """The workflow id of the (connection, sync)'s latest running or waiting run, if any."""
    flying = await runs_in_flight(connection_pk, sync)
    return flying[-1].workflow_id if flying else None
