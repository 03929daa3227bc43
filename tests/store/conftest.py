"""Fixtures of the store tests: the shared database plugin plus repositories."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The shared fixtures module lives in tests/; pytest puts only this directory on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from store_samples import FakeClock

import fixtures_db
from billbridge.store import ConnectionRepository, Database, Keyring


def pytest_configure(config: pytest.Config) -> None:
    # Same effect as `pytest_plugins = ["fixtures_db"]`, which only a top-level conftest may declare.
    if not config.pluginmanager.has_plugin("fixtures_db"):
        config.pluginmanager.register(fixtures_db, "fixtures_db")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def connections(database: Database, keyring: Keyring, clock: FakeClock) -> ConnectionRepository:
    return ConnectionRepository(database, keyring, clock=clock)
