"""``billbridge sync run CONNECTION [--sync NAME]... [--full]``: run syncs now, with progress bars."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from typing import Annotated

import typer
import uvloop
from dbos import DBOS
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from billbridge.cli import app
from billbridge.cli._output import console, fail, load_settings
from billbridge.cli._server import freeze_heap
from billbridge.errors import BillbridgeError
from billbridge.runtime import Runtime, open_runtime
from billbridge.settings import Settings
from billbridge.store import Connection
from billbridge.sync import get_sync
from billbridge.sync.progress import ENDED, RunProgress

sync_app = typer.Typer(help="Run syncs and see how they stand.", no_args_is_help=True)
app.add_typer(sync_app, name="sync")


# How often the bars are drawn, and how often the run's recorded steps and the budget are read
# (every read costs the process that may be storing the pages: a query per window).
TICK_SECONDS = 0.25
READ_EVERY_TICKS = 4


@dataclass
class _Tally:
    run: RunProgress
    started: float = field(default_factory=time.monotonic)
    # Pages and records this process stored itself, counted as they are stored: the recorded
    # steps lag by up to a step (50 pages), and say nothing until the first one is recorded.
    local_pages: int = 0
    local_records: int = 0

    @property
    def pages(self) -> int:
        return max(self.run.pages, self.local_pages)

    @property
    def records(self) -> int:
        return max(self.run.records, self.local_records)

    def rate(self) -> float:
        return self.records / max(time.monotonic() - self.started, 1e-6)


@sync_app.command("run")
def run(
    connection_id: Annotated[str, typer.Argument(help="The connection id.")],
    syncs: Annotated[
        list[str] | None,
        typer.Option("--sync", "-s", help="A sync to run (repeatable; default: all of its syncs)."),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Read everything again and mark what is gone as deleted.")
    ] = False,
    integration: Annotated[
        str, typer.Option("--integration", "-i", help="bill or bill-sandbox.")
    ] = "bill-sandbox",
) -> None:
    """Run a connection's syncs now and follow them (pages, records, records/s, budget left)."""
    settings = load_settings()
    try:
        for name in syncs or []:
            get_sync(name)
        failed = uvloop.run(_run(settings, connection_id, integration, syncs or [], full))
    except BillbridgeError as exc:
        fail(str(exc))
    if failed:
        fail(f"{failed} sync(s) did not finish; see `billbridge sync status {connection_id}`")


async def _run(settings: Settings, connection_id: str, integration: str, names: list[str], full: bool) -> int:
    # Stable per host: running the command again after a crash resumes the interrupted runs.
    executor = f"cli-{socket.gethostname()}"
    async with open_runtime(settings, sync_role="worker", executor_id=executor) as rt:
        freeze_heap()
        conn = await rt.connections.get(connection_id, integration)
        if conn is None:
            raise BillbridgeError(
                f"no connection {connection_id!r} for integration {integration!r}", code="unknown_connection"
            )
        if not names:
            names = [s.name for s in await rt.syncs.context.states.list(connection_pk=conn.pk)] or [
                d.name
                for d, _ in rt.syncs.plan_for(conn.provider_config_key).for_connection(
                    has_api_token=conn.credentials.api_token is not None
                )
            ]
        kind = "full refresh" if full else "run"
        console.print(f"Sync {kind} of connection {connection_id}: {', '.join(names)}", soft_wrap=True)
        return await _follow(rt, conn, names, full)


async def _follow(rt: Runtime, conn: Connection, names: list[str], full: bool) -> int:
    queued = await rt.syncs.trigger(conn.pk, names, full=full)
    dev_key = conn.credentials.dev_key.get_secret_value()
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description:<22}"),
        TextColumn("{task.fields[pages]:>6} pages"),
        TextColumn("{task.fields[records]:>9} records"),
        TextColumn("{task.fields[rate]:>8.0f} records/s"),
        TextColumn("budget left {task.fields[budget]}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    failed = 0
    with Progress(*columns, console=console) as progress:
        tasks: dict[str, TaskID] = {
            q.sync: progress.add_task(q.sync, total=None, pages=0, records=0, rate=0.0, budget="?", status="")
            for q in queued
        }
        # The run may be going in any process (a worker may take it): progress is read from the
        # records DBOS keeps of its steps.
        tallies = {q.sync: _Tally(RunProgress(q.workflow_id)) for q in queued if q.workflow_id}
        pending = {q.sync: q.workflow_id for q in queued if q.workflow_id}

        def stored(connection_pk: int, sync: str, records: int) -> None:
            tally = tallies.get(sync)
            if connection_pk == conn.pk and tally is not None and sync in pending:
                tally.local_pages += 1
                tally.local_records += records

        rt.syncs.context.progress.append(stored)
        try:
            budget: int | str = "?"
            tick = 0
            while pending:
                await asyncio.sleep(TICK_SECONDS)
                tick += 1
                read = tick % READ_EVERY_TICKS == 1
                if read:
                    budget = (await rt.clients.limits.budget(dev_key)).requests_left
                for name, workflow_id in list(pending.items()):
                    tally = tallies[name]
                    status = await DBOS.get_workflow_status_async(workflow_id)
                    state = status.status if status is not None else "UNKNOWN"
                    ended = state in ENDED
                    if read or ended:
                        await tally.run.refresh()  # after the status: a finished run's last page counts
                    progress.update(
                        tasks[name],
                        pages=tally.pages,
                        records=tally.records,
                        rate=tally.rate(),
                        budget=budget,
                        status=state,
                    )
                    if ended:
                        del pending[name]
                        failed += state != "SUCCESS"
        finally:
            rt.syncs.context.progress.remove(stored)
    for done in await rt.syncs.context.states.list(connection_pk=conn.pk, names=names):
        line = f"{done.name}: {done.status}"
        if done.latest_result is not None:
            line += f" {done.latest_result.as_dict()}"
        if done.last_error:
            line += f" ({done.last_error})"
        console.print(line, soft_wrap=True)
    return failed
