"""Fixtures of the keeper and proxy tests: the in-process simulator, a store, a linked connection."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from keeper_harness import Harness

from billbridge.simulator import SimConfig, create_app
from billbridge.store import Connection, Database, Keyring


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(records=30, organizations=3)


@pytest.fixture
async def harness(sim_config: SimConfig, database: Database, keyring: Keyring) -> AsyncIterator[Harness]:
    h = Harness(app=create_app(sim_config), database=database, keyring=keyring)
    await h.start()
    yield h
    await h.aclose()


@pytest.fixture
async def conn(harness: Harness) -> Connection:
    return await harness.link()
