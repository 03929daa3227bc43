"""Counters served by ``GET /_sim/stats``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Stats:
    """What the simulator has seen since start or the last reset."""

    logins: int = 0
    login_failures: int = 0
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def to_json(self, *, peak_in_flight: int, in_flight: int, sessions: int) -> dict[str, Any]:
        """The ``/_sim/stats`` answer."""
        return {
            "logins": self.logins,
            "login_failures": self.login_failures,
            "requests": self.requests,
            "errors": dict(self.errors),
            "peak_in_flight": peak_in_flight,
            "in_flight": in_flight,
            "sessions": sessions,
        }
