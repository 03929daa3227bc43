"""The mutable state of one running simulator (rebuilt by ``POST /_sim/reset``)."""

from __future__ import annotations

from billbridge.simulator.attachments import Attachments
from billbridge.simulator.clock import SimClock, bill_timestamp
from billbridge.simulator.config import SimConfig
from billbridge.simulator.data import DataStore
from billbridge.simulator.events import Subscriptions
from billbridge.simulator.faults import Faults
from billbridge.simulator.limits import Limits
from billbridge.simulator.mfa import MfaState
from billbridge.simulator.sessions import SessionTable
from billbridge.simulator.stats import Stats
from billbridge.simulator.webhooks import Webhooks
from billbridge.simulator.world import build_world


class SimState:
    """World, data, sessions, limits, faults, MFA, webhooks and counters of one simulator.

    Args:
        config: What to simulate.
    """

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.clock = SimClock(config.clock_start)
        self.world = build_world(config)
        self._build()

    def _build(self) -> None:
        config = self.config
        self.subscriptions = Subscriptions()
        self.webhooks = Webhooks(self.subscriptions, self.clock)
        self.data = DataStore(self.world, records=config.records, on_change=self.webhooks.record_changed)
        self.sessions = SessionTable(idle_seconds=config.session_idle_seconds)
        self.limits = Limits(config)
        self.faults = Faults(latency_ms=config.latency_ms)
        self.stats = Stats()
        self.mfa = MfaState(self.world)
        self.attachments = Attachments()

    def reset(self) -> None:
        """Back to the state right after start: the world as built (users changed through
        ``/_sim/users`` restored), fresh data, no sessions, no faults, no subscriptions."""
        self.webhooks.close()
        self.clock.reset()
        self.world = build_world(self.config)
        self._build()

    def now(self) -> float:
        """Simulated time in epoch seconds."""
        return self.clock.now()

    def timestamp(self) -> str:
        """Simulated time as a BILL timestamp."""
        return bill_timestamp(self.clock.now())
