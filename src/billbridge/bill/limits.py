"""BILL's limits, kept on our side so BILL never has to refuse us: the ``RequestLimits`` seam.

BILL allows 3 requests in flight per developer key and organization (``BDC_1322`` beyond), and per
developer key and hour 20,000 requests and 200 logins (``BDC_1144`` beyond, until the top of the
next hour) (https://developer.bill.com/docs/api-rate-limits). Budgets are counted in UTC clock hours.

Every BILL request takes exactly one in-flight slot and one budget unit, in one place: the
client's send path (``billbridge.bill.sender``). Whoever builds clients shares one
``RequestLimits`` between them:

- :class:`Limits` (here): in this process only (SQLite deployments, tests).
- ``billbridge.connections.limits.SharedLimits``: slots held across processes with PostgreSQL
  advisory locks and budgets counted in a PostgreSQL table, for several processes on one database.

The API, for the syncs and the metrics::

    async with limits.slot(dev_key, org_id, priority="sync"):   # one of the 3 slots
        ...
    await limits.spend(dev_key, org_id, priority="sync")        # one unit, or BudgetSpentError
    budget = await limits.budget(dev_key)                       # requests_left, logins_left, reset_at
    limits.in_flight_counts()                                   # {(key digest, org id): n}

Priorities: ``"live"`` (proxied calls, linking, MFA, the keeper's logins) and ``"sync"``
(background syncs). A sync caller never takes a slot while a live caller of the same
organization waits for one (in this process here; in every process with ``SharedLimits``), and
never spends the last 10 % of a developer key's hourly request budget, which stays for live
callers. Within the sync part, organizations share fairly (counted here in this process, by
``SharedLimits`` for all processes together): while several organizations of one developer key
are syncing (spent for a sync in the last five minutes), each may spend at most an equal share
of the sync part of the hour; an organization over its share gets ``BudgetSpentError`` with code
``sync_share_spent`` and a ``reset_at`` one minute on (shares grow as other organizations go
quiet).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from billbridge.bill.slots import OrgSlots, SyncShares
from billbridge.bill.slots import Priority as Priority
from billbridge.bill.slots import hour_start as hour_start
from billbridge.errors import RateLimitError, ValidationError

MAX_IN_FLIGHT = 3
REQUESTS_PER_HOUR = 20_000
LOGINS_PER_HOUR = 200
#: Share of a developer key's hourly request budget that sync callers leave for live callers.
SYNC_RESERVE = 0.10


def next_hour(epoch: float) -> datetime:
    """The top of the next UTC hour after ``epoch``: when BILL's hourly budgets return."""
    return datetime.fromtimestamp(hour_start(epoch) + 3600, tz=UTC)


def next_minute(epoch: float) -> datetime:
    """The start of the next minute: when Spend & Expense's per-minute budget returns."""
    return datetime.fromtimestamp(epoch - epoch % 60 + 60, tz=UTC)


def key_digest(dev_key: str) -> str:
    """A short, stable stand-in for a developer key (a secret) in metrics, logs and the database."""
    return hashlib.sha256(f"billbridge-dev-key\0{dev_key}".encode()).hexdigest()[:16]


class BudgetSpentError(RateLimitError):
    """Our own count says the request may not go now (nothing was sent); see ``code``.

    Codes: ``hourly_budget_spent`` (requests or logins of the hour), ``sync_reserve`` (a sync
    reached the last 10 % kept for live callers), ``sync_share_spent`` (a sync organization is over
    its fair share). ``reset_at`` says when to try again.
    """

    default_code = "hourly_budget_spent"


@dataclass(frozen=True, slots=True)
class Budget:
    """What a developer key may still spend this hour (as counted here; BILL's word wins)."""

    requests_left: int
    logins_left: int
    reset_at: datetime
    requests_per_hour: int = REQUESTS_PER_HOUR
    logins_per_hour: int = LOGINS_PER_HOUR

    @property
    def sync_requests_left(self) -> int:
        """Requests a sync may still spend: what is left above the live reserve."""
        reserve = int(self.requests_per_hour * SYNC_RESERVE)
        return max(0, self.requests_left - reserve)


class RequestLimits(Protocol):
    """The limits every BILL request goes through (see the module docstring)."""

    clock: Callable[[], float]

    def slot(
        self, dev_key: str, organization_id: str, *, priority: Priority = "live"
    ) -> AbstractAsyncContextManager[None]:
        """Hold one of the organization's in-flight slots for the block."""
        ...

    async def spend(
        self,
        dev_key: str,
        organization_id: str | None = None,
        *,
        login: bool = False,
        priority: Priority = "live",
    ) -> None:
        """Count one request (and a login if ``login``); raise :class:`BudgetSpentError` if it may not go."""
        ...

    async def exhausted(self, dev_key: str, *, login: bool = False) -> datetime:
        """BILL answered ``BDC_1144``: mark the budget spent for the hour; returns when it returns."""
        ...

    async def budget(self, dev_key: str) -> Budget:
        """What ``dev_key`` may still spend this hour."""
        ...

    def in_flight(self, dev_key: str, organization_id: str) -> int:
        """Requests of this developer key and organization holding a slot in this process now."""
        ...

    def in_flight_counts(self) -> Mapping[tuple[str, str], int]:
        """Busy slots per (:func:`key_digest` of the developer key, organization id), for metrics."""
        ...

    async def aclose(self) -> None:
        """Release what the limits hold (database connections)."""
        ...


def share_spent(now: float) -> BudgetSpentError:
    """The refusal of a sync request over its organization's fair share."""
    return BudgetSpentError(
        "this organization has used its fair share of the developer key's sync budget for now; "
        "other organizations are syncing too",
        reset_at=next_minute(now),
        code="sync_share_spent",
    )


def budget_spent(reset: datetime, *, login: bool = False, reserve: bool = False) -> BudgetSpentError:
    """The refusal of a request the hourly budget has no room for."""
    if reserve:
        return BudgetSpentError(
            "the rest of this developer key's hourly request budget is kept for live calls; syncs "
            f"resume at {reset.isoformat()}",
            reset_at=reset,
            code="sync_reserve",
        )
    what = "login or request" if login else "request"
    return BudgetSpentError(
        f"the hourly {what} budget of this developer key is spent (counted here, before BILL "
        f"refuses); it returns at {reset.isoformat()}",
        reset_at=reset,
        code="hourly_budget_spent",
    )


class Limits:
    """In-process slots and hourly budgets, shared by clients given the same object.

    Args:
        max_in_flight: concurrent requests per (developer key, organization).
        requests_per_hour: requests per developer key per clock hour (logins included).
        logins_per_hour: logins per developer key per clock hour.
        clock: seconds since the epoch; injectable for tests.
    """

    def __init__(
        self,
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
        requests_per_hour: int = REQUESTS_PER_HOUR,
        logins_per_hour: int = LOGINS_PER_HOUR,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for name, value in (
            ("max_in_flight", max_in_flight),
            ("requests_per_hour", requests_per_hour),
            ("logins_per_hour", logins_per_hour),
        ):
            if value < 1:
                raise ValidationError(f"{name} must be at least 1", field=name)
        self.max_in_flight = max_in_flight
        self.requests_per_hour = requests_per_hour
        self.logins_per_hour = logins_per_hour
        self.sync_cap = requests_per_hour - int(requests_per_hour * SYNC_RESERVE)
        self.clock = clock
        self.shares = SyncShares(self.sync_cap)
        self._slots: dict[tuple[str, str], OrgSlots] = {}
        self._hour = hour_start(clock())
        # Counts per developer key for the current hour; the keys are secrets and never shown.
        self._requests: dict[str, int] = {}
        self._logins: dict[str, int] = {}

    def __repr__(self) -> str:
        return (
            f"Limits(max_in_flight={self.max_in_flight}, requests_per_hour={self.requests_per_hour}, "
            f"logins_per_hour={self.logins_per_hour})"
        )

    # -- slots ---------------------------------------------------------------------------------

    def org_slots(self, dev_key: str, organization_id: str) -> OrgSlots:
        """The slots of this developer key and organization (created on first use)."""
        key = (dev_key, organization_id)
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = OrgSlots(self.max_in_flight)
        return slots

    def slot(
        self, dev_key: str, organization_id: str, *, priority: Priority = "live"
    ) -> AbstractAsyncContextManager[None]:
        """Hold one of the organization's slots for the block (see :class:`OrgSlots`)."""
        slots = self.org_slots(dev_key, organization_id)
        return slots.live_hold if priority == "live" else slots.sync_hold

    def in_flight(self, dev_key: str, organization_id: str) -> int:
        """How many requests of this developer key and organization hold a slot now."""
        slots = self._slots.get((dev_key, organization_id))
        return 0 if slots is None else slots.busy

    def in_flight_counts(self) -> dict[tuple[str, str], int]:
        """Busy slots per (developer key digest, organization id)."""
        return {(key_digest(key), org): s.busy for (key, org), s in self._slots.items() if s.busy}

    # -- budgets -------------------------------------------------------------------------------

    def _roll(self) -> float:
        now = self.clock()
        start = hour_start(now)
        if start != self._hour:
            self._hour = start
            self._requests.clear()
            self._logins.clear()
        return now

    def requests_left(self, dev_key: str) -> int:
        """Requests this developer key may still send this hour."""
        self._roll()
        return max(0, self.requests_per_hour - self._requests.get(dev_key, 0))

    def logins_left(self, dev_key: str) -> int:
        """Logins this developer key may still make this hour."""
        self._roll()
        return max(0, self.logins_per_hour - self._logins.get(dev_key, 0))

    def reset_at(self) -> datetime:
        """When the hourly budgets return (the top of the next UTC hour)."""
        return next_hour(self.clock())

    def take_request(self, dev_key: str, *, login: bool = False) -> datetime | None:
        """Count one live request (and a login if ``login``) against the budgets.

        Returns:
            None if the request may go; otherwise when the spent budget returns (nothing is
            counted then).
        """
        now = self._roll()
        sent = self._requests.get(dev_key, 0)
        if sent >= self.requests_per_hour:
            return next_hour(now)
        if login:
            logins = self._logins.get(dev_key, 0)
            if logins >= self.logins_per_hour:
                return next_hour(now)
            self._logins[dev_key] = logins + 1
        self._requests[dev_key] = sent + 1
        return None

    async def spend(
        self,
        dev_key: str,
        organization_id: str | None = None,
        *,
        login: bool = False,
        priority: Priority = "live",
    ) -> None:
        """Count one request against the budgets (see :class:`RequestLimits`).

        Raises:
            BudgetSpentError: the request may not go (nothing is counted then).
        """
        if priority == "sync":
            now = self._roll()
            if self._requests.get(dev_key, 0) >= self.sync_cap:
                raise budget_spent(next_hour(now), login=login, reserve=True)
            org = organization_id or ""
            if not self.shares.allows(dev_key, org, now):
                raise share_spent(now)
            reset = self.take_request(dev_key, login=login)
            if reset is not None:
                raise budget_spent(reset, login=login)
            self.shares.count(dev_key, org, now)
            return
        reset = self.take_request(dev_key, login=login)
        if reset is not None:
            raise budget_spent(reset, login=login)

    def exhaust(self, dev_key: str, *, login: bool = False) -> datetime:
        """Mark a budget spent for the rest of the hour because BILL said so (``BDC_1144``).

        BILL counts every process and every client of this developer key, so its word wins over
        our count. Returns when the budget returns.
        """
        now = self._roll()
        if login:
            self._logins[dev_key] = self.logins_per_hour
        else:
            self._requests[dev_key] = self.requests_per_hour
        return next_hour(now)

    async def exhausted(self, dev_key: str, *, login: bool = False) -> datetime:
        """:meth:`exhaust`, as the :class:`RequestLimits` seam calls it."""
        return self.exhaust(dev_key, login=login)

    async def budget(self, dev_key: str) -> Budget:
        """What ``dev_key`` may still spend this hour."""
        return Budget(
            requests_left=self.requests_left(dev_key),
            logins_left=self.logins_left(dev_key),
            reset_at=self.reset_at(),
            requests_per_hour=self.requests_per_hour,
            logins_per_hour=self.logins_per_hour,
        )

    async def aclose(self) -> None:
        """Nothing to release in one process."""
