"""BILL's 3-in-flight limit held across processes: one PostgreSQL advisory lock per busy slot.

``SharedLimits`` (``connections.limits``) takes one of these leases for every BILL request, after
the process's own slot: with several processes on one PostgreSQL, each request holds one of the
organization's slots as a session-level advisory lock on a dedicated connection, so the processes
together never send more than BILL accepts (``BDC_1322``). Locks die with their connection, so a
crashed process frees its slots at once.

Live callers first, across processes: a live caller that finds every slot busy announces itself
with a shared advisory lock on the organization's "live waiting" key, held until it wins a slot.
A sync caller only tries the slots in a statement that first takes that key exclusively (a
transaction-level lock, gone when the statement ends), which fails while any live caller of any
process is announced. So once a live caller waits, no sync request of any process starts before
it has its slot.

Giving a slot back and taking the next one cost a round trip each, and a busy process gets round
to each reply late: at 185 pages/s a large sync held each slot 14 ms for a 4 ms request. So a
finished request's connection, its lock still held, is handed to the next caller of the same
organization in this process if one is waiting: that caller sends the unlock and its own attempt
in one pipeline on it, so the lock is really given back (every other process may win it) and
checked again (live callers first) in a single round trip. A connection nobody takes by the next
turn of the event loop gives its lock back in the background, as before.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import structlog
from psycopg import sql
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from billbridge.bill import Priority
from billbridge.errors import ConcurrencyLimitError
from billbridge.store import Database

log = structlog.get_logger(__name__)

MAX_SLOTS = 16
#: The lock key (after the slots) that waiting live callers hold shared.
_LIVE_WAITING = MAX_SLOTS - 1
_FIRST_POLL = 0.002
# A waiting live caller keeps the syncs of every process out, so it polls more often.
_MAX_POLL = {"live": 0.01, "sync": 0.05}
# What a sync poll answers when it could not take the live callers' key.
_YIELDED = -2

Polled = psycopg.AsyncConnection[tuple[Any, ...]]


def slot_base(dev_key: str, organization_id: str) -> int:
    """The advisory lock key of slot 0 for a (developer key, organization); slot i adds i.

    A signed 64-bit value from a hash, so the developer key itself never reaches the database.
    """
    digest = hashlib.sha256(f"billbridge-inflight\0{dev_key}\0{organization_id}".encode()).digest()
    value = int.from_bytes(digest[:8], "big", signed=True)
    return value & ~(MAX_SLOTS - 1)


def live_waiting_key(dev_key: str, organization_id: str) -> int:
    """The advisory lock key that live callers waiting for a slot of the organization hold shared."""
    return slot_base(dev_key, organization_id) + _LIVE_WAITING


class _AllBusy(Exception):
    """Every slot of the organization is held (or a live caller waits, for a sync): poll again."""


class InFlightLeases:
    """At most ``slots`` requests in flight per (developer key, organization) across processes.

    Args:
        dsn: libpq connection string of the PostgreSQL database all processes share.
        slots: BILL's limit (3).
        max_connections: Dedicated connections of this process (one per request in flight or
            waiting for a slot).
        wait: Seconds to wait for a free slot before giving up with ``ConcurrencyLimitError``.
    """

    def __init__(self, dsn: str, *, slots: int = 3, max_connections: int = 64, wait: float = 30.0) -> None:
        if not 1 <= slots < _LIVE_WAITING:
            raise ValueError(f"slots must be between 1 and {_LIVE_WAITING - 1}")
        self._dsn = dsn
        self._slots = slots
        self._wait = wait
        self._idle: list[Polled] = []
        self._capacity = asyncio.Semaphore(max_connections)
        self._releases: set[asyncio.Task[None]] = set()
        # Connections of finished requests whose lock is still held, per organization (slot base),
        # for the next caller of this process: (connection, lock key).
        self._handed: dict[int, list[tuple[Polled, int]]] = {}
        #: Polls that found every slot busy: contention between processes (or a slot given back
        #: to the next caller before its lock was, which ``then`` of :meth:`hold` prevents).
        self.busy_polls = 0
        #: Sync polls that found the live callers' key taken: a live caller waits, or another
        #: sync poll of any process was checking it at that very instant.
        self.yielded_polls = 0
        #: Requests that took the connection (and lock) of the request before them (:meth:`_hand_on`).
        self.handed_on = 0
        # First free slot in one round trip: CASE tries the locks in order and stops at the first won.
        whens = " ".join(f"WHEN pg_try_advisory_lock(%(base)s + {i}) THEN {i}" for i in range(slots))
        first_free = sql.SQL(f"SELECT CASE {whens} ELSE -1 END AS slot OFFSET 0")  # OFFSET 0: once
        self._statements: dict[tuple[Priority, bool], sql.SQL | sql.Composed] = {
            # A live caller: a slot, or else the announcement that it waits.
            ("live", False): sql.SQL(
                "SELECT slot, CASE WHEN slot < 0 THEN pg_try_advisory_lock_shared(%(waiting)s) "
                "ELSE false END FROM ({}) AS t"
            ).format(first_free),
            # An announced live caller: a slot, and the announcement withdrawn once it has one.
            ("live", True): sql.SQL(
                "SELECT slot, CASE WHEN slot >= 0 THEN NOT pg_advisory_unlock_shared(%(waiting)s) "
                "ELSE true END FROM ({}) AS t"
            ).format(first_free),
            # A sync caller: no slot at all while a live caller of any process is announced.
            ("sync", False): sql.SQL(
                f"SELECT CASE WHEN NOT pg_try_advisory_xact_lock(%(waiting)s) THEN {_YIELDED} "
                f"{whens} ELSE -1 END, false"
            ),
        }

    @classmethod
    def for_database(
        cls, db: Database, *, slots: int = 3, max_connections: int = 64, wait: float = 30.0
    ) -> InFlightLeases | None:
        """Leases on ``db`` if it is PostgreSQL; None for SQLite (one process: the client's limit holds)."""
        if not db.is_postgres:
            return None
        dsn = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return cls(dsn, slots=slots, max_connections=max_connections, wait=wait)

    @asynccontextmanager
    async def hold(
        self,
        dev_key: str,
        organization_id: str,
        *,
        priority: Priority = "live",
        then: Callable[[], None] | None = None,
        waiting: Callable[[], bool] | None = None,
    ) -> AsyncIterator[int]:
        """Hold one slot of the organization for the block; yields the slot number.

        Args:
            priority: ``"sync"`` callers take no slot while a live caller of any process waits.
            then: called once the slot is free again for every process (its lock given back,
                which happens after the block, in the background); not called if no slot was won.
            waiting: whether a caller of this process waits for the slot ``then`` frees: if so,
                ``then`` is called at once and that caller gets the connection, lock and all.

        Raises:
            ConcurrencyLimitError: No slot came free within ``wait`` seconds.
        """
        base = slot_base(dev_key, organization_id)
        await self._capacity.acquire()
        try:
            conn, slot = await self._take(base, priority)
        except BaseException:
            self._capacity.release()
            raise
        try:
            yield slot
        finally:
            if then is not None and waiting is not None and waiting():
                self._hand_on(base, conn, base + slot, then)
            else:
                self._release_later(conn, base + slot, then)

    def _release_later(self, conn: Polled, key: int, then: Callable[[], None] | None) -> None:
        # In the background: the caller's answer need not wait for the round trip, and a cancelled
        # caller cannot leave the lock held.
        task = asyncio.ensure_future(self._release(conn, key, then))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    def _hand_on(self, base: int, conn: Polled, key: int, then: Callable[[], None]) -> None:
        """Leave the connection, lock held, to the waiting caller that ``then`` lets in."""
        entry = (conn, key)
        self._handed.setdefault(base, []).append(entry)
        then()  # the waiter runs before the callback below (the loop runs callbacks in order)
        asyncio.get_running_loop().call_soon(self._unclaimed, base, entry)

    def _unclaimed(self, base: int, entry: tuple[Polled, int]) -> None:
        handed = self._handed.get(base)
        if handed is None or entry not in handed:
            return  # taken by the next caller
        handed.remove(entry)
        if not handed:
            del self._handed[base]
        self._release_later(*entry, None)

    async def _take(self, base: int, priority: Priority) -> tuple[Polled, int]:
        # One connection for the whole wait: a live caller's announcement lives on it.
        handed = self._claim(base)
        conn = handed[0] if handed is not None else await self._checkout()
        announced = False
        keys = {"base": base, "waiting": base + _LIVE_WAITING}
        # Poll with capped exponential backoff until a slot is won or ``wait`` seconds have passed.
        polls = AsyncRetrying(
            stop=stop_after_delay(self._wait),
            wait=wait_exponential(multiplier=_FIRST_POLL, max=_MAX_POLL[priority]),
            retry=retry_if_exception_type(_AllBusy),
            reraise=True,
        )
        try:
            async for poll in polls:
                with poll:
                    if handed is not None:
                        # The handed lock goes first, in the same round trip as this attempt.
                        async with conn.pipeline():
                            await conn.execute("SELECT pg_advisory_unlock(%(key)s)", {"key": handed[1]})
                            cursor = await conn.execute(self._statements[priority, announced], keys)
                        handed = None
                    else:
                        cursor = await conn.execute(self._statements[priority, announced], keys)
                    row = await cursor.fetchone()
                    slot, announced = (-1, announced) if row is None else (int(row[0]), bool(row[1]))
                    if slot < 0:
                        if slot == _YIELDED:
                            self.yielded_polls += 1
                        else:
                            self.busy_polls += 1
                        raise _AllBusy
                    return conn, slot
        except _AllBusy:
            await self._give_back(conn, keys["waiting"] if announced else None)
            raise ConcurrencyLimitError(
                f"All {self._slots} of this organization's BILL request slots stayed busy for "
                f"{self._wait:g} s (other billbridge processes hold them); try again shortly.",
                code="BDC_1322",
            ) from None
        except BaseException:
            # Cancelled or failed mid-wait: closing the connection ends its database session and
            # with it any announcement or lock it held.
            await conn.close()
            raise
        raise AssertionError("unreachable: the polls either return or raise")

    async def _give_back(self, conn: Polled, announcement: int | None) -> None:
        """Return a connection that holds no slot to the idle ones (withdrawing an announcement)."""
        if announcement is not None:
            try:
                await conn.execute("SELECT pg_advisory_unlock_shared(%(key)s)", {"key": announcement})
            except BaseException:
                await conn.close()
                raise
        self._idle.append(conn)

    def _claim(self, base: int) -> tuple[Polled, int] | None:
        """A connection handed on for the organization, its lock still held (see :meth:`_hand_on`)."""
        handed = self._handed.get(base)
        if not handed:
            return None
        entry = handed.pop(0)  # in the order handed: each waiter runs before its own check
        if not handed:
            del self._handed[base]
        self._capacity.release()  # it counted for the request that handed it on
        self.handed_on += 1
        return entry

    async def _checkout(self) -> Polled:
        while self._idle:
            idle = self._idle.pop()
            if not idle.closed:
                return idle
        return await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)

    async def _release(self, conn: Polled, key: int, then: Callable[[], None] | None) -> None:
        try:
            await conn.execute("SELECT pg_advisory_unlock(%(key)s)", {"key": key})
        except BaseException as exc:
            # Closing the connection ends its database session and with it every lock it held.
            log.warning("inflight_release_failed", error=type(exc).__name__)
            await conn.close()
            if not isinstance(exc, Exception):
                raise
        else:
            self._idle.append(conn)
        finally:
            self._capacity.release()
            if then is not None:
                then()

    async def aclose(self) -> None:
        """Wait for pending releases and close every connection."""
        for handed in self._handed.values():
            for conn, key in handed:
                self._release_later(conn, key, None)
        self._handed.clear()
        while self._releases:
            await asyncio.gather(*list(self._releases), return_exceptions=True)
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()
