"""The simulator's clock: wall time (or a frozen start) plus an offset tests can advance."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache


class SimClock:
    """Epoch-seconds clock that tests move forward with ``advance``.

    Args:
        start: Frozen start time in epoch seconds, or ``None`` to follow wall time.
    """

    def __init__(self, start: float | None = None) -> None:
        self._start = start
        self._offset = 0.0

    @property
    def is_frozen(self) -> bool:
        """True when time moves only through ``advance``."""
        return self._start is not None

    def now(self) -> float:
        """Current simulated time in epoch seconds."""
        base = self._start if self._start is not None else time.time()
        return base + self._offset

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
        return self.now()

    def reset(self) -> None:
        """Forget every advance."""
        self._offset = 0.0


@lru_cache(maxsize=4096)
def _day(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%dT")


def bill_timestamp(epoch: float) -> str:
    """Format epoch seconds the way BILL does: ``2024-10-16T13:36:31.000+00:00``."""
    millis = round(epoch * 1000)
    seconds, ms = divmod(millis, 1000)
    day, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{_day(day)}{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}+00:00"


def bill_date(epoch: float) -> str:
    """Format epoch seconds as a BILL business date (``yyyy-MM-dd``)."""
    return _day(int(epoch // 86_400))[:10]


def next_hour(epoch: float) -> float:
    """Start of the hour after ``epoch`` (when BILL's hourly budgets reset)."""
    return (int(epoch) // 3600 + 1) * 3600.0
