"""Several ``billbridge serve`` processes on one PostgreSQL and the simulator, each a real process
on a loopback port; linking through them and reading the simulator's counters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from e2e_stack import BILLBRIDGE

from billbridge.cli.demo import demo_credentials
from fixtures_db import TEST_KEY_LINE
from support.processes import Running, free_port, start, wait_http

READY = r"listening on (http://127\.0\.0\.1:\d+)"


@dataclass
class Cluster:
    simulator: Running
    servers: list[Running]
    sim: str
    apis: list[str]
    secret_key: str
    world: dict[str, Any]
    env: dict[str, str]

    def headers(self, connection_id: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.secret_key}",
            "Connection-Id": connection_id,
            "Provider-Config-Key": "bill-sandbox",
        }


def server_env(tmp_path: Path, name: str, database_url: str, sim: str, secret_key: str) -> dict[str, str]:
    """The settings of one billbridge process of the cluster (its own data directory)."""
    return {
        "BILLBRIDGE_DATA_DIR": str(tmp_path / f"data-{name}"),
        "BILLBRIDGE_DATABASE_URL": database_url,
        "BILLBRIDGE_ENCRYPTION_KEY": TEST_KEY_LINE,
        "BILLBRIDGE_SECRET_KEY": secret_key,
        "BILLBRIDGE_BILL_SANDBOX_URL": sim,
        "BILLBRIDGE_BILL_PRODUCTION_URL": f"http://127.0.0.1:{free_port()}",
    }


@contextmanager
def running_cluster(tmp_path: Path, database_url: str, *, servers: int = 2) -> Iterator[Cluster]:
    """The simulator (40 records per family) and ``servers`` API processes on ``database_url``."""
    simulator = start(
        [BILLBRIDGE, "simulator", "--port", "0", "--records", "40"], log=tmp_path / "sim.log", ready=READY
    )
    sim = simulator.ready.group(1)
    secret_key = str(uuid.uuid4())
    started: list[Running] = []
    try:
        for index in range(servers):
            name = "abcdefgh"[index]
            started.append(
                start(
                    [BILLBRIDGE, "serve", "--port", "0"],
                    log=tmp_path / f"server-{name}.log",
                    ready=READY,
                    env=server_env(tmp_path, name, database_url, sim, secret_key),
                )
            )
        apis = [server.ready.group(1) for server in started]
        for api in apis:
            wait_http(f"{api}/health")
        world = httpx.get(f"{sim}/_sim/world", timeout=10).json()
        env = server_env(tmp_path, "extra", database_url, sim, secret_key)
        yield Cluster(simulator, started, sim, apis, secret_key, world, env)
    finally:
        for process in [*started, simulator]:
            process.stop()


def link_account(cluster: Cluster, end_user: str = "scale-out") -> tuple[str, str]:
    """Link the simulator's demo account through the first server; (connection id, connect token)."""
    api = cluster.apis[0]
    auth = {"Authorization": f"Bearer {cluster.secret_key}"}
    session = httpx.post(
        f"{api}/connect/sessions", headers=auth, json={"end_user": {"id": end_user}}, timeout=30
    )
    token: str = session.json()["data"]["token"]
    linked = httpx.post(
        f"{api}/auth/bill/bill-sandbox",
        params={"connect_session_token": token},
        json=demo_credentials(cluster.world),
        timeout=60,
    )
    assert linked.status_code == 200, linked.text
    connection_id: str = linked.json()["connectionId"]
    return connection_id, token


def link(cluster: Cluster) -> str:
    """Link the simulator's demo account through the first server; returns the connection id."""
    return link_account(cluster)[0]


def sim_stats(cluster: Cluster) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{cluster.sim}/_sim/stats", timeout=10).json()
    return stats
