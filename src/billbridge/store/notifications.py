"""Deletions told to every process on PostgreSQL (``LISTEN``/``NOTIFY``), so that caches drop a
deleted connection at once instead of serving it until their next re-read.

SQLite needs none of this: one process serves a SQLite database (``serve`` holds a lock).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import psycopg
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from billbridge.store.db import Database

log = structlog.get_logger(__name__)

DELETED_CHANNEL = "billbridge_connection_deleted"
RECONNECT_SECONDS = 1.0


async def notify_deleted(session: AsyncSession, pk: int) -> None:
    """Queue the deletion notice of connection ``pk``; PostgreSQL sends it when the transaction
    commits (and never if it rolls back)."""
    await session.execute(
        text("SELECT pg_notify(:channel, :pk)"), {"channel": DELETED_CHANNEL, "pk": str(pk)}
    )


@asynccontextmanager
async def deletions_listened(db: Database, on_deleted: Callable[[int], None]) -> AsyncIterator[asyncio.Event]:
    """Call ``on_deleted(pk)`` for every connection deleted by any process, while the block runs.

    Yields:
        An event set once the listener is subscribed (tests wait for it); on SQLite it is set at once.
    """
    ready = asyncio.Event()
    if not db.is_postgres:
        ready.set()
        yield ready
        return
    task = asyncio.create_task(_listen(db, on_deleted, ready))
    try:
        yield ready
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _listen(db: Database, on_deleted: Callable[[int], None], ready: asyncio.Event) -> None:
    dsn = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                await conn.execute(f"LISTEN {DELETED_CHANNEL}")
                ready.set()
                async for notice in conn.notifies():
                    if notice.payload.isascii() and notice.payload.isdigit():
                        on_deleted(int(notice.payload))
        except (psycopg.Error, OSError) as exc:
            # Caches still re-read rows on their own schedule meanwhile; listen again shortly.
            log.warning("deletion_listener_lost", error_type=type(exc).__name__)
            await asyncio.sleep(RECONNECT_SECONDS)
