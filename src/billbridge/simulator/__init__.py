"""A BILL (Bill.com) v3 API of our own, for tests, the demo and benchmarks.

It imports nothing else of billbridge: it is an independent implementation of BILL's behaviour,
so client bugs cannot hide in it.
"""

from __future__ import annotations

from billbridge.simulator.app import create_app
from billbridge.simulator.config import SimConfig
from billbridge.simulator.state import SimState

__all__ = ["SimConfig", "SimState", "create_app"]
