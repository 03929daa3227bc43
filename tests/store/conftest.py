"""Fixtures of the store tests: repositories on the shared database fixtures (tests/fixtures_db.py)."""

from __future__ import annotations

import pytest
from store_samples import FakeClock

from billbridge.store import ConnectionRepository, Database, Keyring


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def connections(database: Database, keyring: Keyring, clock: FakeClock) -> ConnectionRepository:
    return ConnectionRepository(database, keyring, clock=clock)
