"""The keeper's per-process cache of connections: read once, revalidated in the background."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import structlog

from billbridge.connections.clock import Clock
from billbridge.connections.session_cache import CacheEntry, merge, new_entry
from billbridge.errors import NotFoundError
from billbridge.store import Connection, ConnectionRepository

log = structlog.get_logger(__name__)


class ConnectionCache:
    """Connections by pk and by (connection id, integration), each with its live session facts.

    A cached row older than ``ttl`` is still served, and re-read behind the caller's back, so a
    deletion, re-link or status change made by another process shows within about ``ttl``.
    """

    def __init__(self, repo: ConnectionRepository, *, clock: Clock, ttl: timedelta) -> None:
        self._repo = repo
        self._clock = clock
        self._ttl = ttl
        self._entries: dict[int, CacheEntry] = {}
        self._index: dict[tuple[str, str], int] = {}
        self._loading: dict[tuple[str, str], asyncio.Future[Connection | None]] = {}
        self._background: set[asyncio.Task[None]] = set()

    async def lookup(self, connection_id: str, provider_config_key: str) -> Connection:
        """The connection (see :meth:`SessionKeeper.lookup`)."""
        key = (connection_id, provider_config_key)
        pk = self._index.get(key)
        entry = None if pk is None else self._entries.get(pk)
        if entry is not None:
            if self._clock() - entry.loaded_at >= self._ttl:
                self._revalidate(entry)
            return entry.conn
        # Single-flight: a burst of first requests reads the row once.
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._repo.get(*key))
            loading.add_done_callback(lambda _: self._loading.pop(key, None))
        conn = await asyncio.shield(loading)
        if conn is None:
            raise NotFoundError(
                f"No connection {connection_id!r} exists for the integration {provider_config_key!r}.",
                code="unknown_connection",
            )
        return self.entry(conn).conn

    def entry(self, conn: Connection) -> CacheEntry:
        """The entry of ``conn``, created from it, or updated if ``conn`` is a newer read."""
        entry = self._entries.get(conn.pk)
        if entry is None:
            entry = new_entry(conn, self._clock())
            self._entries[conn.pk] = entry
            self._index[(conn.connection_id, conn.provider_config_key)] = conn.pk
        elif conn is not entry.conn and _is_newer(conn, entry.conn):
            merge(entry, conn, self._clock())
        return entry

    def forget(self, pk: int) -> None:
        """Drop a connection (deleted or re-linked in this process)."""
        entry = self._entries.pop(pk, None)
        if entry is not None:
            self._index.pop((entry.conn.connection_id, entry.conn.provider_config_key), None)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` in the background; :meth:`aclose` waits for it."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def aclose(self) -> None:
        """Wait for every background task to finish."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def _revalidate(self, entry: CacheEntry) -> None:
        if entry.reload is not None or entry.refresh is not None:
            return
        entry.loaded_at = self._clock()  # one reload per TTL even if it fails
        entry.reload = self.spawn(self._reload(entry))

    async def _reload(self, entry: CacheEntry) -> None:
        try:
            fresh = await self._repo.get_by_pk(entry.conn.pk)
        except Exception as exc:  # serve the cached row; the next TTL tries again
            log.warning("connection_revalidation_failed", error=type(exc).__name__)
            return
        finally:
            entry.reload = None
        if fresh is None:
            self.forget(entry.conn.pk)
        # A read that began before a login of ours finished must not roll the session back.
        elif entry.refresh is None and fresh.session.generation >= entry.generation:
            merge(entry, fresh, self._clock())


def _is_newer(conn: Connection, cached: Connection) -> bool:
    return conn.session.generation > cached.session.generation or conn.updated_at > cached.updated_at
