"""Faults injected through ``POST /_sim/faults``: latency, 5xx answers, hanging requests, failed logins."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from billbridge.simulator.errors import SimError


@dataclass(slots=True)
class Faults:
    """The current fault settings.

    Attributes:
        latency_ms: Delay before every API answer.
        error_rate: Share of API requests answered 500 BDC_1001.
        timeout_rate: Share of API requests that hang for ``timeout_seconds`` and then fail 504.
        timeout_seconds: How long a hanging request hangs.
        fail_logins: The next N logins fail with 503 BDC_1001.
    """

    latency_ms: int = 0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 60.0
    fail_logins: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)

    def update(self, payload: dict[str, Any]) -> None:
        """Apply the given settings (others stay as they are); BDC_1129 on a bad value."""
        for name, kind, low, high in (
            ("latency_ms", int, 0, 600_000),
            ("error_rate", float, 0.0, 1.0),
            ("timeout_rate", float, 0.0, 1.0),
            ("timeout_seconds", float, 0.0, 3600.0),
            ("fail_logins", int, 0, 1_000_000),
        ):
            if name not in payload:
                continue
            value = payload[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise SimError("BDC_1129", f"Invalid value for {name}")
            setattr(self, name, kind(value))
        unknown = set(payload) - {
            "latency_ms",
            "error_rate",
            "timeout_rate",
            "timeout_seconds",
            "fail_logins",
        }
        if unknown:
            raise SimError("BDC_1129", f"Unknown fault: {sorted(unknown)[0]}")

    def roll_error(self) -> bool:
        """Whether this request fails with a 5xx."""
        return self.error_rate > 0 and self.rng.random() < self.error_rate

    def roll_timeout(self) -> bool:
        """Whether this request hangs."""
        return self.timeout_rate > 0 and self.rng.random() < self.timeout_rate

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON."""
        data = asdict(self)
        data.pop("rng")
        return data
