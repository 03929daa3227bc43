"""BILL's limits: 3 in flight per (developer key, organization), hourly budgets, S&E per minute."""

from __future__ import annotations

from billbridge.simulator.config import SimConfig
from billbridge.simulator.errors import SimError


class Limits:
    """Counters behind BDC_1144 (hourly budgets) and BDC_1322 (concurrency).

    Args:
        config: Supplies the budgets.
    """

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.in_flight: dict[tuple[str, str], int] = {}
        self.peak_in_flight = 0
        self._hour = -1
        self._requests: dict[str, int] = {}
        self._logins: dict[str, int] = {}
        self._minute = -1
        self._spend: dict[str, int] = {}

    def _roll_hour(self, now: float) -> None:
        hour = int(now // 3600)
        if hour != self._hour:
            self._hour = hour
            self._requests.clear()
            self._logins.clear()

    def count_request(self, dev_key: str, now: float) -> None:
        """Spend one request of ``dev_key``'s hourly budget, or BDC_1144."""
        self._roll_hour(now)
        used = self._requests.get(dev_key, 0)
        if used >= self.config.request_budget:
            raise SimError(
                "BDC_1144", f"Max number of allowed requests per hour reached: {self.config.request_budget}."
            )
        self._requests[dev_key] = used + 1

    def count_login(self, dev_key: str, now: float) -> None:
        """Spend one login of ``dev_key``'s hourly budget (and one request), or BDC_1144."""
        self._roll_hour(now)
        used = self._logins.get(dev_key, 0)
        if used >= self.config.login_budget:
            raise SimError(
                "BDC_1144",
                f"Max number of allowed login requests per hour reached: {self.config.login_budget}.",
            )
        self.count_request(dev_key, now)
        self._logins[dev_key] = used + 1

    def enter(self, dev_key: str, org_id: str) -> None:
        """Take an in-flight slot of (dev_key, org), or BDC_1322 if all are taken."""
        key = (dev_key, org_id)
        current = self.in_flight.get(key, 0)
        if current >= self.config.max_in_flight:
            raise SimError("BDC_1322")
        self.in_flight[key] = current + 1
        if current + 1 > self.peak_in_flight:
            self.peak_in_flight = current + 1

    def leave(self, dev_key: str, org_id: str) -> None:
        """Give an in-flight slot back."""
        key = (dev_key, org_id)
        current = self.in_flight.get(key, 0) - 1
        if current > 0:
            self.in_flight[key] = current
        else:
            self.in_flight.pop(key, None)

    def count_spend(self, token: str, now: float) -> None:
        """Spend one S&E call of ``token``'s per-minute budget, or an HTTP 429 BDC_1144."""
        minute = int(now // 60)
        if minute != self._minute:
            self._minute = minute
            self._spend.clear()
        used = self._spend.get(token, 0)
        if used >= self.config.spend_per_minute:
            raise SimError(
                "BDC_1144",
                f"Max number of allowed requests per minute reached: {self.config.spend_per_minute}.",
                status=429,
            )
        self._spend[token] = used + 1
