"""BILL's limits, kept on our side so BILL never has to refuse us.

BILL allows 3 requests in flight per developer key and organization (``BDC_1322`` beyond), and per
developer key and hour 20,000 requests and 200 logins (``BDC_1144`` beyond, until the top of the
next hour) (https://developer.bill.com/docs/api-rate-limits). One :class:`Limits` object is shared by
every client of a process; budgets are counted in UTC clock hours.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from billbridge.errors import ValidationError

MAX_IN_FLIGHT = 3
REQUESTS_PER_HOUR = 20_000
LOGINS_PER_HOUR = 200


def hour_start(epoch: float) -> float:
    """The start of the UTC hour that ``epoch`` (seconds) falls in."""
    return epoch - epoch % 3600


def next_hour(epoch: float) -> datetime:
    """The top of the next UTC hour after ``epoch``: when BILL's hourly budgets return."""
    return datetime.fromtimestamp(hour_start(epoch) + 3600, tz=UTC)


def next_minute(epoch: float) -> datetime:
    """The start of the next minute: when Spend & Expense's per-minute budget returns."""
    return datetime.fromtimestamp(epoch - epoch % 60 + 60, tz=UTC)


def key_digest(dev_key: str) -> str:
    """A short, stable stand-in for a developer key (a secret) in metrics, logs and the database."""
    return hashlib.sha256(f"billbridge-dev-key\0{dev_key}".encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Budget:
    """What a developer key may still spend this hour (as counted here; BILL's word wins)."""

    requests_left: int
    logins_left: int
    reset_at: datetime
    requests_per_hour: int = REQUESTS_PER_HOUR
    logins_per_hour: int = LOGINS_PER_HOUR


class Limits:
    """Process-wide in-flight limit and hourly budgets, shared by clients given the same object.

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
        self.clock = clock
        self._slots: dict[tuple[str, str], asyncio.Semaphore] = {}
        self._hour = hour_start(clock())
        # Counts per developer key for the current hour; the keys are secrets and never shown.
        self._requests: dict[str, int] = {}
        self._logins: dict[str, int] = {}

    def __repr__(self) -> str:
        return (
            f"Limits(max_in_flight={self.max_in_flight}, requests_per_hour={self.requests_per_hour}, "
            f"logins_per_hour={self.logins_per_hour})"
        )

    def slot(self, dev_key: str, organization_id: str) -> asyncio.Semaphore:
        """The semaphore to hold while a request of this developer key and organization is in flight."""
        key = (dev_key, organization_id)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = asyncio.Semaphore(self.max_in_flight)
        return slot

    def in_flight(self, dev_key: str, organization_id: str) -> int:
        """How many requests of this developer key and organization hold a slot now."""
        slot = self._slots.get((dev_key, organization_id))
        return 0 if slot is None else self.max_in_flight - slot._value

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
        """Count one request (and a login if ``login``) against the budgets.

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

    async def budget(self, dev_key: str) -> Budget:
        """What ``dev_key`` may still spend this hour."""
        return Budget(
            requests_left=self.requests_left(dev_key),
            logins_left=self.logins_left(dev_key),
            reset_at=self.reset_at(),
            requests_per_hour=self.requests_per_hour,
            logins_per_hour=self.logins_per_hour,
        )
