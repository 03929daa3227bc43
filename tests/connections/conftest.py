"""Fixtures of the keeper and proxy tests: the in-process simulator, a store, a linked connection."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# The shared fixtures module lives in tests/; pytest puts only this directory on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keeper_harness import Harness

import fixtures_db
from billbridge.simulator import SimConfig, create_app
from billbridge.store import Connection, Database, Keyring


def pytest_configure(config: pytest.Config) -> None:
    # Same effect as `pytest_plugins = ["fixtures_db"]`, which only a top-level conftest may declare.
    if not config.pluginmanager.has_plugin("fixtures_db"):
        config.pluginmanager.register(fixtures_db, "fixtures_db")


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
