"""``SyncEngine``: DBOS launched for this process, the sync queue, the periodic tick, and the calls the
API, CLI and events make (trigger, start a new connection's syncs, stop a deleted one's).

Runs go through one DBOS queue with the deduplication id ``sync:<connection>:<sync>``, so a
(connection, sync) never has two runs queued or running at once, across every process sharing the
system database. A DBOS scheduled workflow ticks every minute and enqueues the syncs that are due
(their ``next_scheduled_at`` has passed): one schedule whatever the number of connections, where a
DBOS schedule per (connection, sync) would cost a thread per schedule in every process.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import structlog
from dbos import DBOS, SetEnqueueOptions, SetWorkflowID
from dbos._error import DBOSQueueDeduplicatedError

from billbridge.errors import BillbridgeError
from billbridge.store import Connection, Frequency, parse_frequency
from billbridge.sync import runstate, steps
from billbridge.sync.definitions import get_sync
from billbridge.sync.launch import DbosOptions, ExecutorLock, launch_dbos, shutdown_dbos
from billbridge.sync.plan import SyncPlan
from billbridge.sync.runstate import is_due
from billbridge.sync.workflows import sync_run

log = structlog.get_logger(__name__)

QUEUE: Final = "billbridge-syncs"
TICK_SCHEDULE: Final = "billbridge-sync-tick"


class SyncsUnavailableError(BillbridgeError):
    """Runs cannot be queued from this process: it did not launch the sync engine."""

    default_code = "syncs_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, http_status=503)


def dedup_id(connection_pk: int, sync: str) -> str:
    """The queue deduplication id of a (connection, sync): one run at a time.

    Run workflow ids start with it too, so a connection's runs are found by prefix.
    """
    return f"sync:{connection_pk}:{sync}:"


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What a trigger did for one sync: the run's workflow id, and whether it was queued now
    (False: the run already queued or running was found; its id if still there)."""

    sync: str
    workflow_id: str | None
    new: bool = True

    @property
    def already_running(self) -> bool:
        return not self.new


class SyncEngine:
    """The sync engine of this process (DBOS is one per process, so is this).

    Args:
        context: what the steps use (fetcher, repositories, clock).
        options: where DBOS keeps its state and whether this process runs syncs; None: DBOS is
            not launched here (a CLI command), new connections only get their sync states, which
            the next tick of a running server or worker picks up.
        plan: the syncs a new connection starts with.
    """

    def __init__(self, context: steps.StepContext, options: DbosOptions | None, *, plan: SyncPlan) -> None:
        self.context = context
        self.options = options
        self.plan = plan
        self._launched = False
        self._lock: ExecutorLock | None = None

    @property
    def is_launched(self) -> bool:
        return self._launched

    async def start(self) -> None:
        """Launch DBOS (recovering this process's interrupted runs) and set up the queue and tick."""
        if self.options is None:
            return
        if self.options.run_syncs and not self.options.is_sqlite:
            self._lock = ExecutorLock(self.options.system_database_url, self.options.executor_id)
            await self._lock.acquire()
        steps.install(self.context)
        try:
            await launch_dbos(self.options, queues=[QUEUE] if self.options.run_syncs else [])
        except BaseException:
            await self.stop()
            raise
        self._launched = True
        await DBOS.register_queue_async(
            QUEUE,
            worker_concurrency=self.options.worker_concurrency,
            polling_interval_sec=self.options.polling_interval,
        )
        if self.options.tick_cron:
            await DBOS.apply_schedules_async(
                [
                    {
                        "schedule_name": TICK_SCHEDULE,
                        "workflow_fn": tick,
                        "schedule": self.options.tick_cron,
                        "queue_name": QUEUE,
                    }
                ]
            )

    async def stop(self) -> None:
        """Stop DBOS; runs in flight stay PENDING and resume when a process with this id starts."""
        if self._launched:
            self._launched = False
            await shutdown_dbos()
        steps.install(None)
        if self._lock is not None:
            await self._lock.release()
            self._lock = None

    def default_frequency(self, name: str) -> Frequency:
        """How often ``name`` runs unless a connection chose otherwise: the plan's, else its own."""
        return self.plan.frequencies.get(name) or parse_frequency(get_sync(name).frequency)

    async def trigger(
        self, connection_pk: int, names: Iterable[str], *, full: bool = False
    ) -> list[Enqueued]:
        """Queue a run of each named sync (at most one per (connection, sync) at a time)."""
        if not self._launched:
            raise SyncsUnavailableError(
                "this process runs no sync engine (start `billbridge serve` or a `billbridge worker`)"
            )
        return [await enqueue(connection_pk, name, full=full) for name in names]

    async def start_defaults(self, conn: Connection) -> list[Enqueued]:
        """A new connection: create its planned syncs and queue their first runs."""
        planned = self.plan.for_connection(has_api_token=conn.credentials.api_token is not None)
        for definition, every in planned:
            await runstate.ensure_state(self.context.states, conn.pk, definition.name, every)
        if not self._launched:
            return []
        return await self.trigger(conn.pk, [d.name for d, _ in planned])

    async def stop_connection(self, connection_pk: int) -> int:
        """A deleted connection: cancel its queued and running syncs; returns how many."""
        if not self._launched:
            return 0
        running = await DBOS.list_workflows_async(
            status=["ENQUEUED", "PENDING"], workflow_id_prefix=f"sync:{connection_pk}:", load_input=False
        )
        for workflow in running:
            await DBOS.cancel_workflow_async(workflow.workflow_id)
        return len(running)

    async def run_due(self) -> list[Enqueued]:
        """Queue every enabled sync whose next run is due (what the tick does)."""
        return await enqueue_due(self.context)


async def enqueue(connection_pk: int, sync: str, *, full: bool = False, scheduled: bool = False) -> Enqueued:
    """Queue one run; None as workflow id when one is already queued or running.

    ``scheduled``: queued because the sync was due; the run skips itself if it is not any more.
    """
    get_sync(sync)
    queue = await DBOS.retrieve_queue_async(QUEUE)
    if queue is None:
        raise RuntimeError("the sync queue is not registered; start the sync engine first")
    key = dedup_id(connection_pk, sync)
    try:
        with SetWorkflowID(key + uuid.uuid4().hex), SetEnqueueOptions(deduplication_id=key):
            handle = await queue.enqueue_async(sync_run, connection_pk, sync, full, scheduled)
    except DBOSQueueDeduplicatedError:
        return Enqueued(sync, await current_run(connection_pk, sync), new=False)
    return Enqueued(sync, handle.workflow_id)


async def current_run(connection_pk: int, sync: str) -> str | None:
    """The workflow id of the (connection, sync)'s queued or running run, if any."""
    found = await DBOS.list_workflows_async(
        status=["ENQUEUED", "PENDING"],
        workflow_id_prefix=dedup_id(connection_pk, sync),
        load_input=False,
        limit=1,
    )
    return found[0].workflow_id if found else None


async def due_syncs(context: steps.StepContext) -> list[tuple[int, str]]:
    """The (connection pk, sync) pairs whose schedule is on and whose next run time has passed."""
    now = context.clock()
    return [(state.connection_pk, state.name) for state in await context.states.list() if is_due(state, now)]


async def enqueue_due(context: steps.StepContext) -> list[Enqueued]:
    """Queue every due sync (one that is already queued or running is left alone)."""
    return [await enqueue(pk, name, scheduled=True) for pk, name in await due_syncs(context)]


@DBOS.step(name="billbridge.sync.due")
async def _due_step() -> list[list[Any]]:
    return [[pk, name] for pk, name in await due_syncs(steps.context())]


@DBOS.workflow(name="billbridge.sync.tick")
async def tick(scheduled_at: datetime, context: Any) -> None:
    """The periodic tick: queue the syncs that are due (those already queued are left alone)."""
    for pk, name in await _due_step():
        await enqueue(pk, name, scheduled=True)
