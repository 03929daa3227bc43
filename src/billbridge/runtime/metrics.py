"""Prometheus metrics of one runtime: logins, connection events, proxied requests, BILL's limits.

Each runtime has its own registry (several apps in one process never share counters). Developer
keys are secrets: they are never a label; a short one-way digest of the key stands for it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from billbridge.bill import RequestLimits
from billbridge.bill.limits import key_digest
from billbridge.connections import (
    ConnectionDeleted,
    ConnectionLinked,
    ConnectionRelinked,
    Events,
    LinkRefused,
    LoginFinished,
    RefreshFailed,
)
from billbridge.store import ConnectionRepository

# Proxied calls take from a few milliseconds (a small list) to BILL's 30 s timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True, slots=True)
class LimitsReading:
    """BILL's limits as one scrape sees them.

    Attributes:
        in_flight: busy slots per (developer key digest, organization id).
        requests_left: this hour's requests left per developer key digest.
        logins_left: this hour's logins left per developer key digest.
    """

    in_flight: Mapping[tuple[str, str], int]
    requests_left: Mapping[str, int]
    logins_left: Mapping[str, int]


LimitsReader = Callable[[], Awaitable[LimitsReading]]


def limits_reader(
    connections: ConnectionRepository, limits: RequestLimits, *, refresh_seconds: float = 60.0
) -> LimitsReader:
    """Read BILL's limits: slots busy now, and the budgets of every stored connection's developer key.

    Which developer keys exist is re-read at most every ``refresh_seconds``: it means decrypting
    every connection's credentials.
    """
    dev_keys: set[str] = set()
    read_at: float | None = None

    async def read() -> LimitsReading:
        nonlocal dev_keys, read_at
        now = time.monotonic()
        if read_at is None or now - read_at >= refresh_seconds:
            dev_keys = {conn.credentials.dev_key.get_secret_value() for conn in await connections.list()}
            read_at = now
        requests_left, logins_left = {}, {}
        for dev_key in dev_keys:
            budget = await limits.budget(dev_key)
            requests_left[key_digest(dev_key)] = budget.requests_left
            logins_left[key_digest(dev_key)] = budget.logins_left
        return LimitsReading(
            in_flight=dict(limits.in_flight_counts()), requests_left=requests_left, logins_left=logins_left
        )

    return read


class _LimitsCollector(Collector):
    """Yields the last :class:`LimitsReading` (taken by :meth:`Metrics.render` before each scrape)."""

    def __init__(self) -> None:
        self.reading = LimitsReading(in_flight={}, requests_left={}, logins_left={})

    def collect(self) -> Iterator[GaugeMetricFamily]:
        in_flight = GaugeMetricFamily(
            "billbridge_bill_in_flight",
            "BILL requests in flight now per organization (BILL allows 3), in this process",
            labels=["organization_id", "dev_key_hash"],
        )
        for (digest, organization_id), count in sorted(self.reading.in_flight.items()):
            in_flight.add_metric([organization_id, digest], count)
        yield in_flight
        for name, text, values in (
            ("billbridge_bill_requests_left", "BILL requests left this hour", self.reading.requests_left),
            ("billbridge_bill_logins_left", "BILL logins left this hour", self.reading.logins_left),
        ):
            family = GaugeMetricFamily(name, f"{text} per developer key", labels=["dev_key_hash"])
            for digest, left in sorted(values.items()):
                family.add_metric([digest], left)
            yield family


class Metrics:
    """The counters and histograms of one runtime, and ``render`` for ``GET /metrics``.

    Args:
        read_limits: reads BILL's limits (in flight, budgets left) at scrape time.
    """

    def __init__(self, read_limits: LimitsReader) -> None:
        self.registry = CollectorRegistry()
        self._read_limits = read_limits
        self._limits = _LimitsCollector()
        self.registry.register(self._limits)
        self.logins = Counter(
            "billbridge_bill_logins",
            "Logins to BILL billbridge made, by purpose (link, renew)",
            ["purpose"],
            registry=self.registry,
        )
        self.login_failures = Counter(
            "billbridge_bill_login_failures",
            "Failed logins to BILL, by purpose and reason (BILL's code, or billbridge's)",
            ["purpose", "reason"],
            registry=self.registry,
        )
        self.connection_events = Counter(
            "billbridge_connection_events",
            "What happened to connections: linked, relinked, link_refused, refresh_failed, deleted",
            ["event"],
            registry=self.registry,
        )
        self.proxy_requests = Counter(
            "billbridge_proxy_requests",
            "Requests answered by the proxy, by HTTP status",
            ["status"],
            registry=self.registry,
        )
        self._by_status: dict[int | None, Counter] = {}
        self.proxy_seconds = Histogram(
            "billbridge_proxy_request_duration_seconds",
            "Time from a proxied request's arrival to the end of its answer",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def subscribe(self, events: Events) -> None:
        """Count logins and connection events as they are emitted."""

        async def login(event: LoginFinished) -> None:
            self.logins.labels(event.purpose).inc()
            if event.outcome != "ok":
                self.login_failures.labels(event.purpose, event.outcome).inc()

        def counting(name: str) -> Callable[[object], Awaitable[None]]:
            counter = self.connection_events.labels(name)

            async def count(_event: object) -> None:
                counter.inc()

            return count

        events.subscribe(LoginFinished, login)
        events.subscribe(ConnectionLinked, counting("linked"))
        events.subscribe(ConnectionRelinked, counting("relinked"))
        events.subscribe(LinkRefused, counting("link_refused"))
        events.subscribe(RefreshFailed, counting("refresh_failed"))
        events.subscribe(ConnectionDeleted, counting("deleted"))

    def proxied(self, status: int | None, started: float) -> None:
        """Count one proxied request answered with ``status`` (None: the caller left before any
        answer); ``started`` is its ``time.perf_counter()``."""
        counter = self._by_status.get(status)
        if counter is None:  # the proxy's hot path: each status's child is looked up once
            label = str(status) if status is not None else "none"
            counter = self._by_status[status] = self.proxy_requests.labels(label)
        counter.inc()
        self.proxy_seconds.observe(time.perf_counter() - started)

    async def render(self) -> bytes:
        """The exposition text of every metric, BILL's limits read now."""
        self._limits.reading = await self._read_limits()
        return generate_latest(self.registry)

    def __repr__(self) -> str:
        return "Metrics()"
