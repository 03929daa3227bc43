"""The parts of :class:`billbridge.bill.limits.Limits` that decide who goes next: the in-flight
slots of one organization (live callers first) and the fair shares of sync budgets."""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import suppress
from typing import Literal

Priority = Literal["live", "sync"]
#: An organization counts as syncing while it spent for a sync within this many seconds.
SYNC_ACTIVE_SECONDS = 300.0


def hour_start(epoch: float) -> float:
    """The start of the UTC hour that ``epoch`` (seconds) falls in."""
    return epoch - epoch % 3600


class OrgSlots:
    """The in-flight slots of one (developer key, organization): a semaphore with two queues.

    A released slot goes to the longest-waiting live caller first, then to a sync caller; a sync
    caller takes a free slot only while no live caller waits.
    """

    __slots__ = ("_live", "_sync", "free", "live_hold", "size", "sync_hold")

    def __init__(self, size: int) -> None:
        self.size = size
        self.free = size
        self._live: deque[asyncio.Future[None]] = deque()
        self._sync: deque[asyncio.Future[None]] = deque()
        self.live_hold = _Hold(self, "live")
        self.sync_hold = _Hold(self, "sync")

    @property
    def busy(self) -> int:
        return self.size - self.free

    def has_waiters(self) -> bool:
        """Whether a caller of either priority waits for a slot (the next release goes to it)."""
        return bool(self._live or self._sync)

    def waiting(self, priority: Priority) -> int:
        """Callers of ``priority`` waiting for a slot."""
        return len(self._live if priority == "live" else self._sync)

    async def acquire(self, priority: Priority = "live") -> None:
        """Take a slot, waiting in the queue of ``priority`` if none may be taken now."""
        if self.free > 0 and not self._live and (priority == "live" or not self._sync):
            self.free -= 1
            return
        queue = self._live if priority == "live" else self._sync
        waiter = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just as the caller went away: pass it on
            else:
                with suppress(ValueError):  # already taken off by release()
                    queue.remove(waiter)
            raise

    def release(self) -> None:
        """Give a slot back: straight to the next waiter (live first), or to the free count."""
        for queue in (self._live, self._sync):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self.free += 1


class _Hold:
    """``async with`` one slot (reusable: it keeps no state of its own; the proxy's hot path)."""

    __slots__ = ("_priority", "_slots")

    def __init__(self, slots: OrgSlots, priority: Priority) -> None:
        self._slots = slots
        self._priority: Priority = priority

    async def __aenter__(self) -> None:
        await self._slots.acquire(self._priority)

    async def __aexit__(self, *exc_info: object) -> None:
        self._slots.release()


class SyncShares:
    """Fair shares of the sync part of each developer key's hourly budget, between organizations.

    Counts what each organization spent for syncs this hour (in this process); see the module
    docstring for the rule.
    """

    def __init__(self, sync_part: int, *, active_seconds: float = SYNC_ACTIVE_SECONDS) -> None:
        self.sync_part = sync_part
        self._active_seconds = active_seconds
        self._hour = -1.0
        self._spent: dict[tuple[str, str], int] = {}
        self._last: dict[tuple[str, str], float] = {}

    def _roll(self, now: float) -> None:
        start = hour_start(now)
        if start != self._hour:
            self._hour = start
            self._spent.clear()
            self._last.clear()

    def share(self, dev_key: str, organization_id: str, now: float) -> int:
        """The most ``organization_id`` may spend for syncs this hour, given who syncs now."""
        self._roll(now)
        horizon = now - self._active_seconds
        active = {org for (key, org), last in self._last.items() if key == dev_key and last >= horizon}
        active.add(organization_id)
        return self.sync_part // len(active)

    def allows(self, dev_key: str, organization_id: str, now: float) -> bool:
        """Whether one more sync request of this organization stays within its share."""
        return self._spent.get((dev_key, organization_id), 0) < self.share(dev_key, organization_id, now)

    def count(self, dev_key: str, organization_id: str, now: float) -> None:
        """Note one sync request of this organization."""
        self._roll(now)
        key = (dev_key, organization_id)
        self._spent[key] = self._spent.get(key, 0) + 1
        self._last[key] = now
