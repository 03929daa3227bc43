"""Fixtures of the sync tests: the in-process simulator, a store, and a DBOS engine on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sync_harness import SyncHarness, dbos_location

from billbridge.simulator import SimConfig, create_app
from billbridge.store import Database, Keyring


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(records=250, organizations=2, seed=11)


@pytest.fixture
def harness_options() -> dict[str, Any]:
    """Extra SyncHarness arguments (override the fixture in a module to change them)."""
    return {}


@pytest.fixture
async def harness(
    sim_config: SimConfig,
    database: Database,
    keyring: Keyring,
    tmp_path: Path,
    harness_options: dict[str, Any],
) -> AsyncIterator[SyncHarness]:
    h = SyncHarness(
        app=create_app(sim_config),
        database=database,
        keyring=keyring,
        **dbos_location(database, tmp_path),
        **harness_options,
    )
    await h.start()
    yield h
    await h.aclose()
