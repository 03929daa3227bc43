"""Fixtures of the HTTP API tests: create_app wired to in-process simulators, a webhook receiver."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

# tests/ holds the shared fixtures module; pytest puts only this directory on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from web_harness import SECRET_KEY, Api, WebhookReceiver, make_settings, running_app

from billbridge.simulator import SimConfig, create_app

# Every database fixture of the shared module, whatever names it grows.
from fixtures_db import *  # noqa: F403
from fixtures_db import TEST_KEY_LINE


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(records=45, seed=7, organizations=3, environment="sandbox")


@pytest.fixture
def production_sim_app() -> Any:
    """A production-environment BILL: shares no credentials with the sandbox one."""
    return create_app(SimConfig(records=5, seed=7, organizations=1, environment="production"))


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Extra settings for one test module (override the fixture to change them)."""
    return {}


@pytest.fixture
async def api(
    sim_app: Any,
    production_sim_app: Any,
    sqlite_database_url: str,
    tmp_path: Path,
    settings_overrides: dict[str, Any],
) -> AsyncIterator[Api]:
    """The billbridge app (lifespan running) and a client authenticated with the secret key."""
    settings = make_settings(
        tmp_path,
        database_url=sqlite_database_url,
        encryption_key=SecretStr(TEST_KEY_LINE),
        **settings_overrides,
    )
    async with running_app(settings, sandbox=sim_app, production=production_sim_app) as running:
        yield running


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """A real HTTP server on a loopback port that records the webhooks it receives."""
    async with WebhookReceiver.running() as server:
        yield server


@pytest.fixture
def demo_form(sim_world: dict[str, Any]) -> Callable[..., dict[str, str]]:
    """The link body with the simulator's demo credentials; keyword arguments replace fields."""

    def build(**changes: str) -> dict[str, str]:
        org = sim_world["organizations"][0]
        body = {
            "username": org["users"][0]["username"],
            "password": org["users"][0]["password"],
            "organization_id": org["id"],
            "dev_key": sim_world["dev_keys"][0]["key"],
        }
        body.update(changes)
        return body

    return build


@pytest.fixture
def http_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRET_KEY}"}
