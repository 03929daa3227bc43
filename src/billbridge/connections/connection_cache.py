"""The keeper's per-process cache of connections: read once, revalidated in the background.

Entries hold decrypted credentials, so the cache is bounded: at most ``max_entries``
connections (the least recently used goes first) and none unused for longer than ``idle``.
An evicted connection is simply read again on its next use.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Coroutine
from datetime import datetime, timedelta
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

    def __init__(
        self,
        repo: ConnectionRepository,
        *,
        clock: Clock,
        ttl: timedelta,
        max_entries: int = 10_000,
        idle: timedelta = timedelta(hours=1),
    ) -> None:
        self._repo = repo
        self._clock = clock
        self._ttl = ttl
        self._max_entries = max_entries
        self._idle = idle
        # Least recently used first.
        self._entries: OrderedDict[int, CacheEntry] = OrderedDict()
        self._index: dict[tuple[str, str], int] = {}
        self._loading: dict[tuple[str, str], asyncio.Future[Connection | None]] = {}
        self._background: set[asyncio.Task[None]] = set()

    async def lookup(self, connection_id: str, provider_config_key: str) -> Connection:
        """The connection (see :meth:`SessionKeeper.lookup`)."""
        key = (connection_id, provider_config_key)
        pk = self._index.get(key)
        entry = None if pk is None else self._entries.get(pk)
        if entry is not None:
            now = self._clock()
            if now - entry.touched >= self._idle:
                self.forget(entry.conn.pk)  # unused too long: read it again
            else:
                if now - entry.loaded_at >= self._ttl:
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

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, conn: Connection) -> CacheEntry:
        """The entry of ``conn``, created from it, or updated if ``conn`` is a newer read."""
        entries = self._entries
        entry = entries.get(conn.pk)
        now = self._clock()
        if entry is None:
            entry = new_entry(conn, now)
            entries[conn.pk] = entry
            self._index[(conn.connection_id, conn.provider_config_key)] = conn.pk
            self._evict(now)
        else:
            entries.move_to_end(conn.pk)
            if conn is not entry.conn and _is_newer(conn, entry.conn):
                merge(entry, conn, now)
        entry.touched = now
        return entry

    def _evict(self, now: datetime) -> None:
        # Oldest first: over the cap, or unused for longer than ``idle``.
        entries = self._entries
        while entries:
            pk, oldest = next(iter(entries.items()))
            if len(entries) <= self._max_entries and now - oldest.touched < self._idle:
                return
            self.forget(pk)

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
