"""Fixtures of the HTTP API tests: create_app wired to in-process simulators, a webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from web_harness import SECRET_KEY, Api, WebhookReceiver, make_settings, running_app

from billbridge.cli.demo import demo_credentials
from billbridge.simulator import SimConfig, create_app
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
async def hooked(
    sim_app: Any, production_sim_app: Any, sqlite_database_url: str, tmp_path: Path, receiver: WebhookReceiver
) -> AsyncIterator[Api]:
    """The app with its webhook URL set to ``receiver``."""
    settings = make_settings(
        tmp_path,
        database_url=sqlite_database_url,
        encryption_key=SecretStr(TEST_KEY_LINE),
        webhook_url=receiver.url,
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
        return {**demo_credentials(sim_world), **changes}

    return build


@pytest.fixture
def http_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRET_KEY}"}
