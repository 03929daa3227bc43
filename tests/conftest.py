"""Fixtures shared by every test package: an in-process BILL simulator and an HTTP client for it.

The database fixtures of ``fixtures_db`` are registered here as a plugin, so every package has them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from billbridge.simulator import SimConfig, create_app

pytest_plugins = ["fixtures_db"]


@pytest.fixture
def sim_config() -> SimConfig:
    """A small sandbox world: 3 organizations, 50 records per family, wall-clock time."""
    return SimConfig(records=50, seed=7, organizations=3, environment="sandbox")


@pytest.fixture
def sim_app(sim_config: SimConfig) -> Starlette:
    """The simulator as an in-process ASGI app (``app.state.sim`` is its ``SimState``)."""
    return create_app(sim_config)


@pytest.fixture
async def sim_http(sim_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """``httpx.AsyncClient`` talking to ``sim_app`` in-process; base URL ``http://sim`` = gateway root."""
    transport = httpx.ASGITransport(app=sim_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        yield client


@pytest.fixture
async def sim_world(sim_http: httpx.AsyncClient) -> dict[str, Any]:
    """The ``GET /_sim/world`` answer: organizations (users, passwords), dev keys, API tokens."""
    response = await sim_http.get("/_sim/world")
    response.raise_for_status()
    world: dict[str, Any] = response.json()
    return world
