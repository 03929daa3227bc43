"""Fixtures of the simulator's own tests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from billbridge.simulator import SimConfig

from .support import FROZEN_START, Demo, sign_in


@pytest.fixture
def frozen_config() -> SimConfig:
    """A small world on a frozen clock."""
    return SimConfig(records=30, seed=11, organizations=2, clock_start=FROZEN_START)


@pytest.fixture
async def demo(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> Demo:
    """The demo admin signed in to the shared ``sim_app``."""
    return await sign_in(sim_http, sim_world)
