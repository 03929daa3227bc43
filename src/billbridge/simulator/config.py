"""Configuration of one simulated BILL environment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Environment = Literal["sandbox", "production"]


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What world the simulator builds and how strictly it behaves.

    Attributes:
        records: Records per main object family per organization (generated lazily).
        seed: Seed of the deterministic world; with ``environment`` it fixes every ID and secret.
        latency_ms: Delay added to every API answer (the control surface can change it later).
        organizations: Number of organizations in the world.
        environment: ``sandbox`` or ``production``; the two share no credentials.
        dev_keys: Developer keys in the world. The first three serve every organization, the
            first half of them, and the last one; each further key serves one organization of
            its own (the fourth the first organization, the fifth the second, and so on), so a
            world with ``organizations + 3`` keys gives every organization a key to itself.
        clock_start: Epoch seconds at which a frozen clock starts; ``None`` follows wall time.
            A frozen clock moves only through ``POST /_sim/clock/advance``.
        request_budget: Requests per developer key per hour (BILL: 20,000).
        login_budget: Logins per developer key per hour (BILL: 200).
        max_in_flight: Concurrent requests per (developer key, organization) (BILL: 3).
        spend_per_minute: Spend & Expense calls per API token per minute (BILL: 60).
        session_idle_seconds: Idle time after which a session dies (BILL: 35 minutes).
        mfa_enforced: Whether protected operations need an MFA-trusted session.
    """

    records: int = 200
    seed: int = 7
    latency_ms: int = 0
    organizations: int = 3
    environment: Environment = "sandbox"
    dev_keys: int = 3
    clock_start: float | None = None
    request_budget: int = 20_000
    login_budget: int = 200
    max_in_flight: int = 3
    spend_per_minute: int = 60
    session_idle_seconds: int = 35 * 60
    mfa_enforced: bool = True

    def __post_init__(self) -> None:
        if self.records < 0:
            raise ValueError("records must be >= 0")
        if not 1 <= self.organizations <= 100:
            raise ValueError("organizations must be between 1 and 100")
        if self.environment not in ("sandbox", "production"):
            raise ValueError("environment must be 'sandbox' or 'production'")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        for name in ("dev_keys", "request_budget", "login_budget", "max_in_flight", "spend_per_minute"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
