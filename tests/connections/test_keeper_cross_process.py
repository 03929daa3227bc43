"""Two server processes on one PostgreSQL and a simulator served over loopback: one login."""

from __future__ import annotations

import asyncio
import json
import sys

import httpx
import pytest
from keeper_harness import OffsetClock, integrations, link_connection, world_credentials
from keeper_processes import WORKER, simulator_process

from billbridge.connections import BillClients
from billbridge.store import ConnectionRepository, Keyring, create_database
from fixtures_db import TEST_KEY_LINE
from support.processes import child_env

CALLERS = 100
IDLE = 36 * 60

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]


async def test_two_processes_share_one_login(postgres_database_url: str, keyring: Keyring) -> None:
    with simulator_process() as gateway:
        async with httpx.AsyncClient(base_url=gateway) as sim:
            world = (await sim.get("/_sim/world")).json()
            clock = OffsetClock()
            db = await create_database(postgres_database_url, run_migrations=False)
            clients = BillClients(integrations(gateway), max_retries=0)
            try:
                repo = ConnectionRepository(db, keyring, clock=clock)
                await link_connection(
                    clients, repo, world_credentials(world), connection_id="shared", now=clock()
                )
            finally:
                await clients.aclose()
                await db.close()
            # The session has now been idle for 36 minutes, on BILL's clock and the workers'.
            (await sim.post("/_sim/clock/advance", json={"seconds": IDLE})).raise_for_status()
            before = (await sim.get("/_sim/stats")).json()["logins"]

            workers = [await _start_worker(postgres_database_url, gateway) for _ in range(2)]
            try:
                for worker in workers:
                    await _line(worker, "ready")
                for worker in workers:
                    assert worker.stdin is not None
                    worker.stdin.write(b"go\n")
                    await worker.stdin.drain()
                outcomes = [json.loads(await _line(worker, "result")) for worker in workers]
            finally:
                for worker in workers:
                    if worker.returncode is None:
                        worker.kill()
                    await worker.wait()
            after = (await sim.get("/_sim/stats")).json()["logins"]

    assert outcomes == [{"200": CALLERS}, {"200": CALLERS}]
    assert after - before == 1


async def _start_worker(database_url: str, gateway: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        "--database-url",
        database_url,
        "--gateway",
        gateway,
        "--key-line",
        TEST_KEY_LINE,
        "--connection-id",
        "shared",
        "--callers",
        str(CALLERS),
        "--offset-seconds",
        str(IDLE),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=child_env(),
    )


async def _line(proc: asyncio.subprocess.Process, marker: str) -> str:
    """The rest of the first output line starting with ``marker`` (logs are skipped)."""
    assert proc.stdout is not None
    async with asyncio.timeout(60):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise AssertionError(f"the worker exited before printing {marker!r}")
            if line.startswith(marker):
                return line[len(marker) :].strip()
