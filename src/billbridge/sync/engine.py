"""``SyncEngine``: DBOS launched for this process, the sync queue, the periodic tick, and the calls the
API, CLI and events make (trigger, start a new connection's syncs, stop a deleted one's).

Runs go through one DBOS queue partitioned by (connection, sync) (see ``queueing``): never two runs
of one (connection, sync) at once across every process sharing the system database, and a trigger
that arrives during a run gets one more run after it. A DBOS scheduled workflow ticks every minute
and enqueues the syncs that are due (their ``next_scheduled_at`` has passed): one schedule whatever
the number of connections, where a DBOS schedule per (connection, sync) would cost a thread per
schedule in every process. On PostgreSQL, processes that run syncs take over the runs of a process
that died (see ``takeover``).

The embedded server (SQLite) launches DBOS only once there is sync work: an enabled sync or an
unfinished run. DBOS's threads poll its database several times a second and take the interpreter
lock from the event loop each time, which costs a server that only proxies a few milliseconds of
tail latency for nothing. Until then the server looks for work once a minute, as the tick would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

import anyio.to_thread
import structlog
from dbos import DBOS

from billbridge.errors import BillbridgeError
from billbridge.store import Connection, Frequency, parse_frequency
from billbridge.sync import runstate, steps
from billbridge.sync.definitions import get_sync
from billbridge.sync.launch import DbosOptions, has_unfinished_workflows, launch_dbos, shutdown_dbos
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
        idle_check_every: seconds between looks for sync work while the embedded server has not
            launched DBOS (a connection linked by another process, an unpaused sync).
    """

    def __init__(
        self,
        context: steps.StepContext,
        options: DbosOptions | None,
        *,
        plan: SyncPlan,
        plans: Mapping[str, SyncPlan] | None = None,
        idle_check_every: float = 60.0,
    ) -> None:
        self.context = context
        self.options = options
        self.plan = plan
        self.plans = dict(plans or {})
        self.idle_check_every = idle_check_every
        self._launched = False  # DBOS is up and the queues are registered
        self._dbos_up = False
        self._launching = asyncio.Lock()
        self._lock: ExecutorLock | None = None
        self._takeover: asyncio.Task[None] | None = None
        self._idle_watch: asyncio.Task[None] | None = None

    @property
    def is_launched(self) -> bool:
        """Whether DBOS runs in this process now."""
        return self._launched

    @property
    def can_run(self) -> bool:
        """Whether this process queues runs (launching DBOS at the first one if it waits for work)."""
        return self.options is not None

    def plan_for(self, integration: str | None) -> SyncPlan:
        """The plan of new connections of ``integration`` (the global plan if it has none)."""
        return self.plans.get(integration or "", self.plan)

    async def start(self) -> None:
        """Launch DBOS (recovering this process's interrupted runs) and set up the queues and tick,
        or, for the embedded server with no sync work yet, watch for work and launch when it comes.

        On PostgreSQL the process holds its executor id (a lock that dies with it), and if it runs
        syncs it keeps taking over the runs of processes that died.
        """
        if self.options is None:
            return
        if self._waits_for_work(self.options) and not await self._has_work(self.options):
            log.info("sync_engine_idle", check_every=self.idle_check_every)
            self._idle_watch = asyncio.create_task(self._watch_for_work(self.options))
            return
        await self._launch(self.options)

    async def wake(self) -> None:
        """Launch DBOS now if this process can run syncs and has not yet (there is work for it)."""
        if self.options is None or self._launched:
            return
        async with self._launching:
            if not self._launched:
                await self._launch(self.options)
        if self._idle_watch is not None and self._idle_watch is not asyncio.current_task():
            self._idle_watch.cancel()
            await asyncio.gather(self._idle_watch, return_exceptions=True)
        self._idle_watch = None

    @staticmethod
    def _waits_for_work(options: DbosOptions) -> bool:
        """The embedded server waits for work; workers and PostgreSQL API processes launch at once."""
        return options.is_sqlite and options.run_syncs

    async def _has_work(self, options: DbosOptions) -> bool:
        """An enabled sync (its schedule needs the tick) or a run left unfinished (to resume)."""
        if await self.context.states.any_enabled():
            return True
        # anyio's threads: once DBOS has run in this process, the loop's default executor is its
        # pool, shut down with it.
        return await anyio.to_thread.run_sync(has_unfinished_workflows, options.system_database_url)

    async def _watch_for_work(self, options: DbosOptions) -> None:
        while True:
            await asyncio.sleep(self.idle_check_every)
            try:
                found = await self._has_work(options)
            except Exception as exc:  # the database is busy or restarting: look again next time
                log.warning("sync_work_check_failed", error=type(exc).__name__)
                continue
            if found:
                log.info("sync_engine_woken")
                try:
                    await self.wake()
                except Exception as exc:
                    log.error("sync_engine_launch_failed", error=type(exc).__name__)
                    continue
                return

    async def _launch(self, options: DbosOptions) -> None:
        if not options.is_sqlite:
            self._lock = ExecutorLock(options.system_database_url, options.executor_id)
            await self._lock.acquire()
        steps.install(self.context)
        runs = options.run_syncs
        try:
            await launch_dbos(options, queues=[QUEUE, TICK_QUEUE] if runs else [])
            self._dbos_up = True
            await self._register(options)
        except BaseException:
            await self._release()
            raise
        if runs and self._lock is not None and options.takeover_interval > 0:
            self._takeover = asyncio.create_task(self._take_over(self._lock, options.takeover_interval))
        # Last: a trigger that sees this goes straight to the queues.
        self._launched = True

    async def _register(self, options: DbosOptions) -> None:
        await DBOS.register_queue_async(
            QUEUE,
            worker_concurrency=options.worker_concurrency,
            partition_concurrency=1,
            polling_interval_sec=options.polling_interval,
        )
        await DBOS.register_queue_async(
            TICK_QUEUE, worker_concurrency=1, polling_interval_sec=options.polling_interval
        )
        if options.tick_cron:
            await DBOS.apply_schedules_async(
                [
                    {
                        "schedule_name": TICK_SCHEDULE,
                        "workflow_fn": tick,
                        "schedule": options.tick_cron,
                        "queue_name": TICK_QUEUE,
                    }
                ]
            )

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
        if self._idle_watch is not None:
            self._idle_watch.cancel()
            await asyncio.gather(self._idle_watch, return_exceptions=True)
            self._idle_watch = None
        await self._release()

    async def _release(self) -> None:
        if self._takeover is not None:
            self._takeover.cancel()
            await asyncio.gather(self._takeover, return_exceptions=True)
            self._takeover = None
        self._launched = False
        if self._dbos_up:
            self._dbos_up = False
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
        if self.options is None:
            raise SyncsUnavailableError(
                "this process runs no sync engine (start `billbridge serve` or a `billbridge worker`)"
            )
        await self.wake()
        return [await enqueue(connection_pk, name, full=full) for name in names]

    async def start_defaults(self, conn: Connection) -> list[Enqueued]:
        """A new connection: create its planned syncs and queue their first runs."""
        plan = self.plan_for(conn.provider_config_key)
        planned = plan.for_connection(has_api_token=conn.credentials.api_token is not None)
        for definition, every in planned:
            await runstate.ensure_state(self.context.states, conn.pk, definition.name, every)
        if self.options is None or not planned:
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
