"""Clean-up that runs on a schedule while a server runs: expired connect sessions and expired
idempotency keys go.

A connect session holds end-user data (id, e-mail, name, tags) that nobody may use once it has
expired, and an idempotency key holds BILL's answer (encrypted) for 24 hours only: both are
deleted soon after they expire instead of kept forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog

from billbridge.store import ConnectSessionRepository, IdempotencyRepository

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


async def purge_expired_idempotency_keys(keys: IdempotencyRepository) -> int:
    """Delete every expired idempotency key (and the answer it kept) now; returns how many went."""
    purged = await keys.purge_expired()
    if purged:
        log.info("idempotency_keys_purged", count=purged)
    return purged


@asynccontextmanager
async def session_purge(
    sessions: ConnectSessionRepository, *, every: float
) -> AsyncIterator[asyncio.Task[None]]:
    """Purge expired connect sessions every ``every`` seconds for the duration of the block."""
    async with scheduled(
        lambda: purge_expired_sessions(sessions), every=every, name="connect_sessions"
    ) as task:
        yield task


@asynccontextmanager
async def idempotency_purge(
    keys: IdempotencyRepository, *, every: float
) -> AsyncIterator[asyncio.Task[None]]:
    """Purge expired idempotency keys every ``every`` seconds for the duration of the block."""
    async with scheduled(
        lambda: purge_expired_idempotency_keys(keys), every=every, name="idempotency_keys"
    ) as task:
        yield task


@asynccontextmanager
async def scheduled(
    job: Callable[[], Awaitable[object]], *, every: float, name: str
) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``job`` now and every ``every`` seconds for the duration of the block."""
    task = asyncio.create_task(repeat(job, every=every, name=name))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
