"""The end-to-end stack: the BILL simulator, ``billbridge serve`` and a Node webhook receiver,
each a real process on a loopback port, driven by Nango's official Node clients."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from e2e_stack import BILLBRIDGE, RECORDS, Stack
from node_drivers import NODE_DIR

from support.processes import free_port, start, wait_http


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not (NODE_DIR / "node_modules" / "@nangohq" / "node").is_dir():
        pytest.fail("Nango's Node clients are not installed: run ./scripts/setup --test")
    work = tmp_path_factory.mktemp("e2e")
    secret_key = str(uuid.uuid4())
    simulator = start(
        [BILLBRIDGE, "simulator", "--port", "0", "--records", str(RECORDS)],
        log=work / "simulator.log",
        ready=r"listening on (http://127\.0\.0\.1:\d+)",
    )
    webhooks_file = work / "webhooks.jsonl"
    receiver = start(
        ["node", str(NODE_DIR / "webhook_receiver.mjs")],
        log=work / "receiver.log",
        ready=r"listening (\d+)",
        env={"SECRET_KEY": secret_key, "RECORD_FILE": str(webhooks_file)},
    )
    sim = simulator.ready.group(1)
    data_dir = work / "data"
    server = start(
        [BILLBRIDGE, "serve", "--port", "0"],
        log=work / "server.log",
        ready=r"listening on (http://127\.0\.0\.1:\d+)",
        env={
            "BILLBRIDGE_DATA_DIR": str(data_dir),
            "BILLBRIDGE_SECRET_KEY": secret_key,
            "BILLBRIDGE_BILL_SANDBOX_URL": sim,
            "BILLBRIDGE_BILL_PRODUCTION_URL": f"http://127.0.0.1:{free_port()}",
            "BILLBRIDGE_WEBHOOK_URL": f"http://127.0.0.1:{receiver.ready.group(1)}/hooks",
            "BILLBRIDGE_LOG_LEVEL": "DEBUG",
        },
    )
    running = Stack(
        simulator=simulator,
        receiver=receiver,
        server=server,
        api=server.ready.group(1),
        sim=sim,
        secret_key=secret_key,
        data_dir=data_dir,
        webhooks_file=webhooks_file,
    )
    try:
        wait_http(f"{running.api}/health")
        running.world = httpx.get(f"{sim}/_sim/world", timeout=10).json()
        yield running
    finally:
        running.stop()
