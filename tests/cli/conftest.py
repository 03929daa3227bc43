"""CLI fixtures: a simulator served over HTTP in a thread, and settings through the environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_harness import SimServer
from typer.testing import CliRunner

from billbridge.cli import _register
from billbridge.simulator import SimConfig, create_app
from support.processes import serve_in_thread


@pytest.fixture
def sim_server() -> Iterator[SimServer]:
    with serve_in_thread(create_app(SimConfig(records=10, organizations=2))) as url:
        yield SimServer(url=url, world=httpx.get(f"{url}/_sim/world").json())


@pytest.fixture
def cli_env(tmp_path: Path, sim_server: SimServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """BILLBRIDGE_* settings for the commands: a fresh data directory, sandbox at the simulator."""
    for key in list(os.environ):
        if key.startswith("BILLBRIDGE_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env file is read
    return {
        "BILLBRIDGE_DATA_DIR": str(tmp_path / "data"),
        "BILLBRIDGE_BILL_SANDBOX_URL": sim_server.url,
        "BILLBRIDGE_BILL_PRODUCTION_URL": "http://127.0.0.1:9",
    }


@pytest.fixture
def runner() -> CliRunner:
    _register()
    return CliRunner()
