"""BILL's limits across every process of a deployment on PostgreSQL: :class:`SharedLimits`.

The same seam as the in-process :class:`billbridge.bill.limits.Limits` (see that module for the
API and the priorities), held across processes:

- Slots: a caller first queues for one of the organization's slots in this process (where live
  callers go before sync callers), then takes one of the organization's PostgreSQL advisory-lock
  leases (``InFlightLeases``), so the processes together never have more than 3 requests in flight.
  A live caller waiting for a lease announces itself there, and no sync caller of any process
  takes a lease while one is announced: live calls first across processes too.
- Budgets: counted in the ``bill_budgets`` table (one row per developer key digest and hour) with
  one atomic statement per change. To keep the hot path cheap, a process reserves requests in small
  batches (up to 20, fewer as the hour's budget runs low, one at a time for the last few hundred)
  and hands them out from memory; a reserved unit counts as spent for everyone, so the processes
  together never send more than the budget. Each reserved unit has its rank in the hour; a sync
  request may only use one ranked within the first 90 %. Logins are counted one statement each.
- Batches are reserved ahead: once half of a batch is handed out, the next one is reserved in the
  background, so callers do not queue behind a round trip to the database every few requests (a
  large sync waited 20 ms there for one request in ten). Only while batches hold more than one
  unit: near the end of the hour's budget each unit is reserved when it is needed, exactly. At
  most two batches per process stay unused when the hour ends.
- The fair share of sync budgets between organizations is counted in the ``bill_sync_shares``
  table (one row per developer key digest, hour and organization), reserved in batches the same
  way (and ahead), so it holds across processes: an organization's batch only fits under the sync
  part divided by the organizations that reserved within the last five minutes.

``limits_for_database(db)`` picks this on PostgreSQL and the in-process ``Limits`` on SQLite
(one process per database file).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from billbridge.bill import Budget, Limits, Priority, RequestLimits
from billbridge.bill.limits import (
    LOGINS_PER_HOUR,
    MAX_IN_FLIGHT,
    REQUESTS_PER_HOUR,
    budget_spent,
    key_digest,
    next_hour,
    share_spent,
)
from billbridge.bill.slots import SYNC_ACTIVE_SECONDS, OrgSlots
from billbridge.connections.concurrency import InFlightLeases
from billbridge.store import BudgetRepository, Database

log = structlog.get_logger(__name__)

MAX_BATCH = 20
# Budget left per unit of batch: with fewer than 64 x 20 requests left, batches shrink.
_BATCH_SPREAD = 64
# Hours of budget rows kept (for reading back); older ones are deleted.
_KEEP_HOURS = 24


def limits_for_database(db: Database, *, clock: Callable[[], float] = time.time) -> RequestLimits:
    """:class:`SharedLimits` on PostgreSQL; the in-process :class:`Limits` on SQLite."""
    leases = InFlightLeases.for_database(db)
    if leases is None:
        return Limits(clock=clock)
    return SharedLimits(leases, BudgetRepository(db), clock=clock)


@dataclass(slots=True)
class _Pool:
    """Requests this process reserved for one developer key and hour: ranks ``next`` to ``end``,
    then the ranks of ``ahead`` (a batch reserved in the background, once this one ran low)."""

    hour: int
    next: int
    end: int
    spent: bool = False  # the hour's budget has no room left: refuse without asking the database
    ahead: tuple[int, int] | None = None
    reserving: bool = False  # a batch is being reserved ahead

    def low(self, batch: int) -> bool:
        """Whether half of a batch of ``batch`` (more than one unit) is used and none is ahead."""
        left = self.end - self.next + 1
        return batch > 1 and self.ahead is None and not self.reserving and left <= batch // 2


@dataclass(slots=True)
class _Share:
    """Units of one organization's fair sync share this process reserved and has not used yet."""

    hour: int
    left: int
    reserving: bool = False  # a batch is being reserved ahead


class SharedLimits:
    """Slots and budgets shared by every process on one PostgreSQL database (see the module).

    Args:
        leases: the advisory-lock leases of the organizations' slots.
        budgets: the shared hourly counts.
        clock: seconds since the epoch.
    """

    def __init__(
        self,
        leases: InFlightLeases,
        budgets: BudgetRepository,
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
        requests_per_hour: int = REQUESTS_PER_HOUR,
        logins_per_hour: int = LOGINS_PER_HOUR,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.local = Limits(
            max_in_flight=max_in_flight,
            requests_per_hour=requests_per_hour,
            logins_per_hour=logins_per_hour,
            clock=clock,
        )
        self.clock = clock
        self.requests_per_hour = requests_per_hour
        self.logins_per_hour = logins_per_hour
        self._leases = leases
        self._budgets = budgets
        self._pools: dict[str, _Pool] = {}
        self._refills: dict[str, asyncio.Lock] = {}
        self._shares: dict[tuple[str, str], _Share] = {}
        self._share_refills: dict[tuple[str, str], asyncio.Lock] = {}
        # Shares are thousands of requests in production: batches of 20 are fine-grained enough.
        self._share_batch = max(1, min(MAX_BATCH, self.local.sync_cap // (_BATCH_SPREAD * 4)))
        self._purged_hour = -1
        # Batches being reserved ahead (kept so they are not collected; cancelled on close).
        self._ahead: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        per_hour = f"requests_per_hour={self.requests_per_hour}, logins_per_hour={self.logins_per_hour}"
        return f"SharedLimits({per_hour})"

    # -- slots ---------------------------------------------------------------------------------

    def slot(
        self, dev_key: str, organization_id: str, *, priority: Priority = "live"
    ) -> AbstractAsyncContextManager[None]:
        """Hold one of the organization's slots, in this process and across processes."""
        slots = self.local.org_slots(dev_key, organization_id)
        return _SharedSlot(slots, priority, self._leases, dev_key, organization_id)

    def in_flight(self, dev_key: str, organization_id: str) -> int:
        """Slots of this organization held in this process."""
        return self.local.in_flight(dev_key, organization_id)

    def in_flight_counts(self) -> dict[tuple[str, str], int]:
        """Busy slots in this process per (developer key digest, organization id)."""
        return self.local.in_flight_counts()

    # -- budgets -------------------------------------------------------------------------------

    async def spend(
        self,
        dev_key: str,
        organization_id: str | None = None,
        *,
        login: bool = False,
        priority: Priority = "live",
    ) -> None:
        """Count one request against the shared budgets (see the module).

        Raises:
            BudgetSpentError: the request may not go (nothing is counted then).
        """
        now = self.clock()
        hour = int(now // 3600)
        if login:
            digest = key_digest(dev_key)
            if not await self._budgets.count_login(
                digest, hour, cap=self.requests_per_hour, login_cap=self.logins_per_hour
            ):
                raise budget_spent(next_hour(now), login=True)
            return
        sync = priority == "sync"
        share: _Share | None = None
        if sync:
            share = await self._share(dev_key, organization_id or "", hour, now)
        pool = self._pools.get(dev_key)
        while pool is None or pool.hour != hour or pool.next > pool.end:
            pool = await self._refill(dev_key, hour, now)
        if sync and pool.next > self.local.sync_cap:
            raise budget_spent(next_hour(now), reserve=True)
        pool.next += 1
        batch = self._batch(pool.end)
        if pool.low(batch):
            pool.reserving = True
            self._in_background(self._pool_ahead(dev_key, pool, batch))
        if share is not None:
            share.left -= 1
            if self._share_batch > 1 and not share.reserving and share.left <= self._share_batch // 2:
                share.reserving = True
                self._in_background(self._share_ahead(dev_key, organization_id or "", share, now))

    def _batch(self, reserved: int) -> int:
        """Units to reserve at once after ``reserved`` of the hour's budget: fewer as it runs low."""
        return max(1, min(MAX_BATCH, (self.requests_per_hour - reserved) // _BATCH_SPREAD))

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._ahead.add(task)
        task.add_done_callback(self._ahead.discard)

    async def _pool_ahead(self, dev_key: str, pool: _Pool, count: int) -> None:
        """Reserve the batch after ``pool``'s current one (nothing if it no longer fits)."""
        try:
            async with self._refill_lock(dev_key):
                if self._pools.get(dev_key) is not pool or pool.spent:
                    return  # refilled (or refused) meanwhile
                total = await self._budgets.reserve(
                    key_digest(dev_key), pool.hour, count, cap=self.requests_per_hour
                )
                if total is not None:
                    pool.ahead = (total - count + 1, total)
        except Exception as exc:  # the caller that needs the batch reserves it, and sees the error
            log.warning("budget_reserve_ahead_failed", error=type(exc).__name__)
        finally:
            pool.reserving = False

    async def _share_ahead(self, dev_key: str, org: str, share: _Share, now: float) -> None:
        """Reserve the next batch of an organization's sync share (nothing if it does not fit)."""
        key = (dev_key, org)
        try:
            async with self._share_lock(key):
                if self._shares.get(key) is not share:
                    return
                if await self._reserve_share(dev_key, org, share.hour, self._share_batch, now):
                    share.left += self._share_batch
        except Exception as exc:
            log.warning("sync_share_reserve_ahead_failed", error=type(exc).__name__)
        finally:
            share.reserving = False

    def _refill_lock(self, dev_key: str) -> asyncio.Lock:
        lock = self._refills.get(dev_key)
        if lock is None:
            lock = self._refills[dev_key] = asyncio.Lock()
        return lock

    def _share_lock(self, key: tuple[str, str]) -> asyncio.Lock:
        lock = self._share_refills.get(key)
        if lock is None:
            lock = self._share_refills[key] = asyncio.Lock()
        return lock

    async def _share(self, dev_key: str, org: str, hour: int, now: float) -> _Share:
        """Units of the organization's fair share reserved by this process (refilled in batches)."""
        key = (dev_key, org)
        share = self._shares.get(key)
        if share is not None and share.hour == hour and share.left > 0:
            return share
        async with self._share_lock(key):
            share = self._shares.get(key)
            if share is not None and share.hour == hour and share.left > 0:
                return share  # another caller refilled it while this one waited
            for count in dict.fromkeys((self._share_batch, 1)):  # a batch, or else what still fits
                if await self._reserve_share(dev_key, org, hour, count, now):
                    share = self._shares[key] = _Share(hour, count)
                    return share
            raise share_spent(now)

    async def _reserve_share(self, dev_key: str, org: str, hour: int, count: int, now: float) -> bool:
        """Add ``count`` units to the organization's sync share of the hour, if they fit."""
        total = await self._budgets.reserve_share(
            key_digest(dev_key),
            hour,
            org,
            count,
            sync_part=self.local.sync_cap,
            now=int(now),
            active_since=int(now - SYNC_ACTIVE_SECONDS),
        )
        return total is not None

    async def _refill(self, dev_key: str, hour: int, now: float) -> _Pool:
        async with self._refill_lock(dev_key):
            pool = self._pools.get(dev_key)
            if pool is not None and pool.hour == hour:
                if pool.next <= pool.end:
                    return pool  # another caller refilled it while this one waited
                if pool.ahead is not None:
                    (pool.next, pool.end), pool.ahead = pool.ahead, None
                    return pool
                if pool.spent:
                    raise budget_spent(next_hour(now))
            last = 0 if pool is None or pool.hour != hour else pool.end
            count = self._batch(last)
            digest = key_digest(dev_key)
            total = await self._budgets.reserve(digest, hour, count, cap=self.requests_per_hour)
            if total is None and count > 1:
                count = 1
                total = await self._budgets.reserve(digest, hour, count, cap=self.requests_per_hour)
            if total is None:
                self._pools[dev_key] = _Pool(hour, 1, 0, spent=True)
                raise budget_spent(next_hour(now))
            pool = self._pools[dev_key] = _Pool(hour, total - count + 1, total)
        if hour != self._purged_hour:
            self._purged_hour = hour
            await self._budgets.purge(hour - _KEEP_HOURS)
        return pool

    async def exhausted(self, dev_key: str, *, login: bool = False) -> datetime:
        """BILL answered ``BDC_1144``: the budget is spent for every process until the hour ends."""
        now = self.clock()
        hour = int(now // 3600)
        digest = key_digest(dev_key)
        if login:
            await self._budgets.exhaust(digest, hour, requests=None, logins=self.logins_per_hour)
        else:
            await self._budgets.exhaust(digest, hour, requests=self.requests_per_hour, logins=None)
            self._pools[dev_key] = _Pool(hour, 1, 0, spent=True)
        return next_hour(now)

    async def budget(self, dev_key: str) -> Budget:
        """What ``dev_key`` may still spend this hour, all processes together (reserved = spent)."""
        now = self.clock()
        requests, logins = await self._budgets.read(key_digest(dev_key), int(now // 3600))
        return Budget(
            requests_left=max(0, self.requests_per_hour - requests),
            logins_left=max(0, self.logins_per_hour - logins),
            reset_at=next_hour(now),
            requests_per_hour=self.requests_per_hour,
            logins_per_hour=self.logins_per_hour,
        )

    async def aclose(self) -> None:
        """Release the leases' database connections (batches being reserved ahead are dropped)."""
        for task in list(self._ahead):
            task.cancel()
        await asyncio.gather(*self._ahead, return_exceptions=True)
        await self._leases.aclose()


class _SharedSlot:
    """The local slot, then the cross-process lease; given back in the reverse order.

    The local slot follows the lease's lock, not the block: handed to the next caller of this
    process before the lock is given back (a round trip, in the background), it would find every
    lock still held and back off for milliseconds, leaving one of BILL's three slots idle.
    """

    __slots__ = ("_dev_key", "_lease", "_leases", "_organization_id", "_priority", "_slots")

    def __init__(
        self, slots: OrgSlots, priority: Priority, leases: InFlightLeases, dev_key: str, organization_id: str
    ) -> None:
        self._slots = slots
        self._priority: Priority = priority
        self._leases = leases
        self._dev_key = dev_key
        self._organization_id = organization_id
        self._lease: AbstractAsyncContextManager[int] | None = None

    async def __aenter__(self) -> None:
        await self._slots.acquire(self._priority)
        try:
            lease = self._leases.hold(
                self._dev_key,
                self._organization_id,
                priority=self._priority,
                then=self._slots.release,
                waiting=self._slots.has_waiters,
            )
            await lease.__aenter__()
        except BaseException:
            self._slots.release()
            raise
        self._lease = lease

    async def __aexit__(self, *exc_info: object) -> None:
        lease, self._lease = self._lease, None
        if lease is None:
            self._slots.release()
            return
        await lease.__aexit__(None, None, None)  # the local slot comes back with the lock
