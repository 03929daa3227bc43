"""Clean-up that runs on a schedule while a server runs: expired connect sessions go.

A connect session holds end-user data (id, e-mail, name, tags) that nobody may use once it has
expired, so it is deleted soon after instead of kept forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog

from billbridge.store import ConnectSessionRepository

log = structlog.get_logger(__name__)


async def purge_expired_sessions(sessions: ConnectSessionRepository) -> int:
    """Delete every expired connect session now; returns how many went."""
    purged = await sessions.purge_expired()
    if purged:
        log.info("connect_sessions_purged", count=purged)
    return purged


async def repeat(job: Callable[[], Awaitable[object]], *, every: float, name: str) -> None:
    """Run ``job`` now and then every ``every`` seconds until cancelled; a failure waits for the
    next round (it is logged by type only: a database error may quote end-user data)."""
    while True:
        try:
            await job()
        except Exception as exc:
            log.warning("housekeeping_failed", job=name, error_type=type(exc).__name__)
        await asyncio.sleep(every)


@asynccontextmanager
async def session_purge(
    sessions: ConnectSessionRepository, *, every: float
) -> AsyncIterator[asyncio.Task[None]]:
    """Purge expired connect sessions every ``every`` seconds for the duration of the block."""
    task = asyncio.create_task(
        repeat(lambda: purge_expired_sessions(sessions), every=every, name="connect_sessions")
    )
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
