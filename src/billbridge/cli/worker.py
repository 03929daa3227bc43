"""``billbridge worker``: run syncs from the queue shared through PostgreSQL (as many as you like)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
import uvloop

from billbridge.cli import app
from billbridge.cli._logging import configure_logging
from billbridge.cli._output import console, fail, load_settings
from billbridge.cli._server import freeze_heap
from billbridge.errors import BillbridgeError
from billbridge.runtime import open_runtime
from billbridge.settings import Settings


@app.command()
def worker(
    worker_id: Annotated[
        str | None,
        typer.Option(
            "--id",
            help="This worker's id (default: worker-HOSTNAME). A worker restarted with the same id "
            "resumes the runs it was doing; give each worker on one host its own.",
        ),
    ] = None,
) -> None:
    """Run sync workflows from the shared queue until Ctrl-C or SIGTERM (PostgreSQL only)."""
    settings = load_settings()
    if settings.is_sqlite:
        fail(
            "billbridge worker needs PostgreSQL: set "
            "BILLBRIDGE_DATABASE_URL=postgresql+psycopg://USER@HOST/DB (every API process and "
            "worker must use the same database). On SQLite, `billbridge serve` runs the syncs itself.",
            code=2,
        )
    configure_logging(settings.log_level)
    try:
        uvloop.run(_work(settings, worker_id))
    except BillbridgeError as exc:
        fail(str(exc))
    console.print("billbridge worker stopped.")


async def _work(settings: Settings, worker_id: str | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with open_runtime(settings, sync_role="worker", executor_id=worker_id) as runtime:
        freeze_heap()
        options = runtime.syncs.options
        executor = options.executor_id if options is not None else "?"
        console.print(f"[bold]billbridge worker[/] {executor} running syncs (Ctrl-C to stop)", soft_wrap=True)
        await stop.wait()
