"""``SyncEngine``: DBOS launched for this process, the sync queue, the periodic tick, and the calls the
API, CLI and events make (trigger, start a new connection's syncs, stop a deleted one's).

Runs go through one DBOS queue partitioned by (connection, sync) (see ``queueing``): never two runs
of one (connection, sync) at once across every process sharing the system database, and a trigger
that arrives during a run gets one more run after it. A DBOS scheduled workflow ticks every minute
and enqueues the syncs that are due (their ``next_scheduled_at`` has passed): one schedule whatever
the number of connections, where a DBOS schedule per (connection, sync) would cost a thread per
schedule in every process. On PostgreSQL, processes that run syncs take over the runs of a process
that died (see ``takeover``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

import structlog
from dbos import DBOS

from billbridge.errors import BillbridgeError
from billbridge.store import Connection, Frequency, parse_frequency
from billbridge.sync import runstate, steps
from billbridge.sync.definitions import get_sync
from billbridge.sync.launch import DbosOptions, launch_dbos, shutdown_dbos
from billbridge.sync.plan import SyncPlan
from billbridge.sync.queueing import QUEUE, TICK_QUEUE, Enqueued, enqueue
from billbridge.sync.runstate import is_due
from billbridge.sync.takeover import ExecutorLock, take_over_dead_executors

log = structlog.get_logger(__name__)

TICK_SCHEDULE: Final = "billbridge-sync-tick"

__all__ = ["QUEUE", "Enqueued", "SyncEngine", "SyncsUnavailableError", "enqueue"]


class SyncsUnavailableError(BillbridgeError):
    """Runs cannot be queued from this process: it did not launch the sync engine."""

    default_code = "syncs_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, http_status=503)


class SyncEngine:
    """The sync engine of this process (DBOS is one per process, so is this).

    Args:
        context: what the steps use (fetcher, repositories, clock).
        options: where DBOS keeps its state and whether this process runs syncs; None: DBOS is
            not launched here (a CLI command), new connections only get their sync states, which
            the next tick of a running server or worker picks up.
        plan: the syncs a new connection starts with, unless ``plans`` has one for its integration.
        plans: per integration key (``bill``, ``bill-sandbox``), the plan of its new connections.
    """

    def __init__(
        self,
        context: steps.StepContext,
        options: DbosOptions | None,
        *,
        plan: SyncPlan,
        plans: Mapping[str, SyncPlan] | None = None,
    ) -> None:
        self.context = context
        self.options = options
        self.plan = plan
        self.plans = dict(plans or {})
        self._launched = False
        self._lock: ExecutorLock | None = None
        self._takeover: asyncio.Task[None] | None = None

    @property
    def is_launched(self) -> bool:
        return self._launched

    def plan_for(self, integration: str | None) -> SyncPlan:
        """The plan of new connections of ``integration`` (the global plan if it has none)."""
        return self.plans.get(integration or "", self.plan)

    async def start(self) -> None:
        """Launch DBOS (recovering this process's interrupted runs) and set up the queues and tick.

        On PostgreSQL the process holds its executor id (a lock that dies with it), and if it runs
        syncs it keeps taking over the runs of processes that died.
        """
        if self.options is None:
            return
        if not self.options.is_sqlite:
            self._lock = ExecutorLock(self.options.system_database_url, self.options.executor_id)
            await self._lock.acquire()
        steps.install(self.context)
        runs = self.options.run_syncs
        try:
            await launch_dbos(self.options, queues=[QUEUE, TICK_QUEUE] if runs else [])
        except BaseException:
            await self.stop()
            raise
        self._launched = True
        await DBOS.register_queue_async(
            QUEUE,
            worker_concurrency=self.options.worker_concurrency,
            partition_concurrency=1,
            polling_interval_sec=self.options.polling_interval,
        )
        await DBOS.register_queue_async(
            TICK_QUEUE, worker_concurrency=1, polling_interval_sec=self.options.polling_interval
        )
        if self.options.tick_cron:
            await DBOS.apply_schedules_async(
                [
                    {
                        "schedule_name": TICK_SCHEDULE,
                        "workflow_fn": tick,
                        "schedule": self.options.tick_cron,
                        "queue_name": TICK_QUEUE,
                    }
                ]
            )
        if runs and self._lock is not None and self.options.takeover_interval > 0:
            self._takeover = asyncio.create_task(self._take_over(self._lock, self.options.takeover_interval))

    async def _take_over(self, lock: ExecutorLock, every: float) -> None:
        """Every ``every`` seconds: keep this process's id, and take over the runs of dead processes."""
        assert self.options is not None
        while True:
            await asyncio.sleep(every)
            try:
                await lock.keep()
                taken = await take_over_dead_executors(lock, self.options.system_schema)
            except Exception as exc:  # the database may be restarting: try again next time
                log.warning("sync_takeover_failed", error=type(exc).__name__)
                continue
            for executor, count in taken.items():
                log.warning("sync_runs_taken_over", dead_executor=executor, runs=count)

    async def stop(self) -> None:
        """Stop DBOS; runs in flight stay PENDING and resume when a process with this id starts,
        or when a live process takes them over."""
        if self._takeover is not None:
            self._takeover.cancel()
            await asyncio.gather(self._takeover, return_exceptions=True)
            self._takeover = None
        if self._launched:
            self._launched = False
            await shutdown_dbos()
        steps.install(None)
        if self._lock is not None:
            await self._lock.release()
            self._lock = None

    def default_frequency(self, name: str, integration: str | None = None) -> Frequency:
        """How often ``name`` runs unless a connection chose otherwise: the integration's plan's,
        else the sync's own."""
        return self.plan_for(integration).frequencies.get(name) or parse_frequency(get_sync(name).frequency)

    async def trigger(
        self, connection_pk: int, names: Iterable[str], *, full: bool = False
    ) -> list[Enqueued]:
        """Queue a run of each named sync: one at a time per (connection, sync), and one more after
        a run that is going when the trigger arrives."""
        if not self._launched:
            raise SyncsUnavailableError(
                "this process runs no sync engine (start `billbridge serve` or a `billbridge worker`)"
            )
        return [await enqueue(connection_pk, name, full=full) for name in names]

    async def start_defaults(self, conn: Connection) -> list[Enqueued]:
        """A new connection: create its planned syncs and queue their first runs."""
        plan = self.plan_for(conn.provider_config_key)
        planned = plan.for_connection(has_api_token=conn.credentials.api_token is not None)
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
