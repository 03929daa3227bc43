"""A webhook receiver on a loopback port (aiohttp, in the test's own event loop) that keeps what it gets."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

LOOPBACK = "127.0.0.1"


@dataclass
class Received:
    """One notification as it arrived: the raw body and the headers (names in lower case)."""

    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """What the receiver got so far, and how it answers (``statuses`` in turn, then 200)."""

    url: str
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_for(self, count: int, *, timeout: float = 10.0) -> list[Received]:
        """The first ``count`` notifications, waiting up to ``timeout`` seconds for them."""
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.received) >= count), timeout)
        return self.received[:count]


def bill_signature(security_key: str, body: bytes) -> str:
    """What BILL documents: base64 of the HMAC-SHA256 of the notification body with the security key."""
    return base64.b64encode(hmac.new(security_key.encode(), body, hashlib.sha256).digest()).decode()


@asynccontextmanager
async def webhook_receiver(statuses: Sequence[int] = (), *, path: str = "/bill") -> AsyncIterator[Receiver]:
    """Serve ``POST {path}`` on a free loopback port for the duration of the block."""
    receiver = Receiver(url="", statuses=list(statuses))

    async def accept(request: web.Request) -> web.Response:
        body = await request.read()
        async with receiver.arrived:
            receiver.received.append(Received(body, {k.lower(): v for k, v in request.headers.items()}))
            receiver.arrived.notify_all()
        status = receiver.statuses.pop(0) if receiver.statuses else 200
        return web.Response(status=status, text="ok")

    app = web.Application()
    app.router.add_post(path, accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://{LOOPBACK}:{port}{path}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
