"""Delivering notifications: signed POSTs from an asyncio task, retried on the simulated clock.

As ``docs/bill-webhook-api-notification-rules`` says: a notification that gets no HTTP 200 within
10 seconds has failed and is sent again after 2, 4, 8 and 16 seconds. After the last failure
the delivery is given up and the subscription is disabled (the "Webhook Events & Subscriptions"
guide). Retries fall due on the simulator's clock: with a frozen clock they wait for
``POST /_sim/clock/advance``. Nothing here runs while nothing is queued.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from billbridge.simulator.clock import SimClock, bill_timestamp

SIGNATURE_HEADER = "x-bill-sha-signature"
TIMEOUT_SECONDS = 10.0
RETRY_DELAYS = (2.0, 4.0, 8.0, 16.0)
#: Notifications sent at once; more wait for a free place.
CONCURRENCY = 8
#: Finished deliveries kept for ``GET /_sim/webhooks/deliveries`` (the oldest go first).
KEEP = 10_000
#: Notifications waiting at most; past that new ones are dropped (``abandoned``) at once.
MAX_PENDING = 50_000

Status = Literal["pending", "delivered", "failed", "abandoned"]


def sign(security_key: str, body: bytes) -> str:
    """``x-bill-sha-signature``: base64 of the HMAC-SHA256 of the body keyed with the security key."""
    digest = hmac.new(security_key.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Delivery:
    """One notification of one event to one subscription's URL, with its attempts."""

    id: int
    event_id: str
    event_type: str
    subscription_id: str
    url: str
    body: bytes = field(repr=False)
    due: float
    status: Status = "pending"
    attempts: int = 0
    response_codes: list[int | None] = field(default_factory=list)
    last_error: str | None = None
    sent_times: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``GET /_sim/webhooks/deliveries`` view."""
        return {
            "id": self.id,
            "eventId": self.event_id,
            "eventType": self.event_type,
            "subscriptionId": self.subscription_id,
            "notificationUrl": self.url,
            "status": self.status,
            "attempts": self.attempts,
            "responseCode": self.response_codes[-1] if self.response_codes else None,
            "responseCodes": self.response_codes,
            "lastError": self.last_error,
            "attemptTimes": self.sent_times,
            "nextAttemptTime": bill_timestamp(self.due) if self.status == "pending" else None,
            "payload": self.body.decode(),
        }


class Deliveries:
    """The delivery queue and the task that works it.

    Args:
        clock: The simulator's clock (due times are on it).
        target_for: The current ``(notificationUrl, securityKey)`` of a subscription, or None once it
            is deleted or disabled (BILL then stops sending).
        on_result: Called with each delivery after an attempt (for the event history).
        on_give_up: Called with a subscription ID when one of its deliveries failed for good.
    """

    def __init__(
        self,
        clock: SimClock,
        *,
        target_for: Callable[[str], tuple[str, str] | None],
        on_result: Callable[[Delivery], None],
        on_give_up: Callable[[str], None],
    ) -> None:
        self._clock = clock
        self._target_for = target_for
        self._on_result = on_result
        self._on_give_up = on_give_up
        self._items: dict[int, Delivery] = {}
        self._pending: dict[int, Delivery] = {}
        self._busy: set[int] = set()
        self._serial = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def all(self) -> list[Delivery]:
        """Every kept delivery, oldest first."""
        return list(self._items.values())

    def enqueue(self, *, event_id: str, event_type: str, subscription_id: str, url: str, body: bytes) -> None:
        """Queue a notification, due now, and make sure the task runs."""
        delivery = Delivery(
            id=next(self._serial),
            event_id=event_id,
            event_type=event_type,
            subscription_id=subscription_id,
            url=url,
            body=body,
            due=self._clock.now(),
        )
        self._items[delivery.id] = delivery
        if len(self._pending) >= MAX_PENDING:
            delivery.status = "abandoned"
            delivery.last_error = f"more than {MAX_PENDING} notifications were waiting"
        else:
            self._pending[delivery.id] = delivery
        if len(self._items) > KEEP + len(self._pending) + KEEP // 10:
            self._trim()
        self.kick()

    def _trim(self) -> None:
        finished = [i for i in self._items if i not in self._pending]
        for delivery_id in finished[: len(finished) - KEEP]:
            del self._items[delivery_id]

    def _finish(self, delivery: Delivery, status: Status) -> None:
        delivery.status = status
        self._pending.pop(delivery.id, None)

    def _due(self) -> list[Delivery]:
        now = self._clock.now()
        return [d for d in self._pending.values() if d.due <= now and d.id not in self._busy]

    def _next_due(self) -> float | None:
        return min((d.due for d in self._pending.values()), default=None)

    def kick(self) -> None:
        """Start the task (in the running loop) if anything is pending; wake it if it sleeps."""
        if self._closed or not self._pending:
            return
        try:
            loop = self._bind()
        except RuntimeError:  # no loop: the next flush or request delivers
            return
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="simulator-webhooks")
        else:
            self._wake_up()

    def _bind(self) -> asyncio.AbstractEventLoop:
        """The running loop, with this queue's lock and wake-up event made for it."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new loop (tests run one per test): start afresh in it
            self._loop, self._lock, self._wake, self._task = loop, asyncio.Lock(), asyncio.Event(), None
        return loop

    def _wake_up(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._closed:
            await self._round()
            wait = self._next_due()
            if wait is None or (self._clock.is_frozen and not self._due()):
                return  # idle, or waiting for the frozen clock to move (kick restarts it)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, wait - self._clock.now()))

    async def _round(self) -> None:
        """Attempt every due delivery once."""
        lock = self._lock
        if lock is None:
            return
        async with lock:
            due = self._due()
            if not due:
                return
            self._busy.update(d.id for d in due)
            gate = asyncio.Semaphore(CONCURRENCY)
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:

                async def attempt(delivery: Delivery) -> None:
                    try:
                        async with gate:
                            await self._attempt(client, delivery)
                    finally:
                        self._busy.discard(delivery.id)

                await asyncio.gather(*(attempt(d) for d in due))

    async def _attempt(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        target = self._target_for(delivery.subscription_id)
        if target is None:
            self._finish(delivery, "abandoned")
            delivery.last_error = "the subscription was deleted or disabled"
            return
        delivery.url, key = target
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(key, delivery.body)}
        delivery.attempts += 1
        delivery.sent_times.append(bill_timestamp(self._clock.now()))
        code: int | None = None
        try:
            response = await client.post(delivery.url, content=delivery.body, headers=headers)
            code = response.status_code
            delivery.last_error = None if code == 200 else f"HTTP {code}"
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as error:
            delivery.last_error = f"{type(error).__name__}: {error}"[:300]
        delivery.response_codes.append(code)
        if code == 200:
            self._finish(delivery, "delivered")
        elif delivery.attempts > len(RETRY_DELAYS):
            self._finish(delivery, "failed")
            self._on_give_up(delivery.subscription_id)
        else:
            delivery.due = self._clock.now() + RETRY_DELAYS[delivery.attempts - 1]
        self._on_result(delivery)

    async def flush(self) -> None:
        """Attempt every due delivery now and wait for the attempts (and a running round) to end."""
        self._bind()
        await self._round()
        self.kick()

    def close(self) -> None:
        """Stop delivering (the simulator was reset): pending deliveries are dropped."""
        self._closed = True
        self._pending.clear()
        if self._task is not None and not self._task.done():
            self._task.cancel()
