"""CLI fixtures: a simulator served over HTTP in a thread, and settings through the environment."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from cli_harness import SimServer
from typer.testing import CliRunner

from billbridge.cli import _register
from billbridge.simulator import SimConfig, create_app


@pytest.fixture
def sim_server() -> Iterator[SimServer]:
    config = uvicorn.Config(
        create_app(SimConfig(records=10, organizations=2)),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the simulator did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    try:
        yield SimServer(url=url, world=httpx.get(f"{url}/_sim/world").json())
    finally:
        server.should_exit = True
        thread.join(10)


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
