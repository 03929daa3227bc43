"""The uvicorn server the long-running commands share: fast protocol stack, a garbage collector
tuned for a request loop."""

from __future__ import annotations

import gc
import socket
from typing import Any

import uvicorn

# With CPython's defaults (700, 10, 10) the young generation is collected every few requests, and
# every tenth of those walks the older generations, which hold the whole start-up heap (modules,
# app, caches): pauses of tens of milliseconds under load. Freezing that heap takes it out of the
# collector's sight, and larger thresholds make the remaining collections rarer. Measured with
# bench/proxy_overhead.py's stress load: server CPU per proxied request about 195 -> 130 us, p99
# about 95 -> 16 ms (freezing alone gave most of it; these thresholds about 10 us more).
GC_THRESHOLDS = (20_000, 20, 20)


class Server(uvicorn.Server):
    """``uvicorn.Server`` that freezes the start-up heap once the app has started."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        freeze_heap()


def freeze_heap() -> None:
    """Collect once, then move every surviving object (modules, app, caches) out of the collector's
    reach, so later collections only walk what requests allocate."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def config(app: Any, **options: Any) -> uvicorn.Config:
    """A uvicorn configuration on uvloop and httptools (both come with ``uvicorn[standard]``)."""
    return uvicorn.Config(app, loop="uvloop", http="httptools", **options)
