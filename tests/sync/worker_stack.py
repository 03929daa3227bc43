"""Real processes for the worker tests: link an account through ``billbridge serve``, and read the
sync runs DBOS keeps in PostgreSQL."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from fixtures_db import TEST_KEY_LINE
from support.processes import Running, free_port, start, wait_http

BILLBRIDGE = str(Path(sys.executable).parent / "billbridge")
READY = r"listening on (http://127\.0\.0\.1:\d+)"


@dataclass(frozen=True)
class Cluster:
    """The simulator, ``billbridge serve`` (queueing only) and workers ``w1`` and ``w2`` on one
    PostgreSQL, each a process on loopback."""

    sim: str
    api: str
    secret_key: str
    env: dict[str, str]
    workers: dict[str, Running]


@contextmanager
def cluster(
    tmp_path: Path, database_url: str, *, simulator_args: list[str], env: dict[str, str]
) -> Iterator[Cluster]:
    """Start the processes of a :class:`Cluster` (``env`` added to every billbridge process's);
    stop them all, in reverse, when the block ends."""
    simulator = start(
        [BILLBRIDGE, "simulator", "--port", "0", *simulator_args], log=tmp_path / "sim.log", ready=READY
    )
    processes: list[Running] = [simulator]
    try:
        sim = simulator.ready.group(1)
        secret_key = str(uuid.uuid4())
        common = {
            "BILLBRIDGE_DATABASE_URL": database_url,
            "BILLBRIDGE_ENCRYPTION_KEY": TEST_KEY_LINE,
            "BILLBRIDGE_SECRET_KEY": secret_key,
            "BILLBRIDGE_BILL_SANDBOX_URL": sim,
            "BILLBRIDGE_BILL_PRODUCTION_URL": f"http://127.0.0.1:{free_port()}",
            **env,
        }
        server = start(
            [BILLBRIDGE, "serve", "--port", "0"],
            log=tmp_path / "serve.log",
            ready=READY,
            env={**common, "BILLBRIDGE_DATA_DIR": str(tmp_path / "data-serve")},
        )
        processes.append(server)
        api = server.ready.group(1)
        wait_http(f"{api}/health")
        workers: dict[str, Running] = {}
        for name in ("w1", "w2"):
            workers[name] = start(
                [BILLBRIDGE, "worker", "--id", name],
                log=tmp_path / f"{name}.log",
                ready=r"running syncs",
                env={**common, "BILLBRIDGE_DATA_DIR": str(tmp_path / f"data-{name}")},
            )
            processes.append(workers[name])
        yield Cluster(sim=sim, api=api, secret_key=secret_key, env=common, workers=workers)
    finally:
        for process in reversed(processes):
            process.stop()


def link(api: str, secret_key: str, world: dict[str, Any], org_index: int) -> str:
    """Link the simulator's organization ``org_index`` through the API; returns the connection id."""
    auth = {"Authorization": f"Bearer {secret_key}"}
    token = httpx.post(
        f"{api}/connect/sessions", headers=auth, json={"end_user": {"id": f"eu-{org_index}"}}, timeout=30
    )
    org = world["organizations"][org_index]
    creds = {
        "username": org["users"][0]["username"],
        "password": org["users"][0]["password"],
        "organization_id": org["id"],
        "dev_key": next(k["key"] for k in world["dev_keys"] if org["id"] in k["organization_ids"]),
    }
    linked = httpx.post(
        f"{api}/auth/bill/bill-sandbox",
        params={"connect_session_token": token.json()["data"]["token"]},
        json=creds,
        timeout=60,
    )
    assert linked.status_code == 200, linked.text
    connection_id: str = linked.json()["connectionId"]
    return connection_id


def runs(dsn: str, name: str = "billbridge.sync.run") -> list[tuple[str, str, str, int, int]]:
    """(workflow id, status, executor, first step's start ms, last step's end ms) of every
    workflow called ``name``.

    The span comes from the steps' own times (taken by the process running them): DBOS stamps a
    dequeue with its transaction's start, which may precede the end of the run it waited for.
    """
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT w.workflow_uuid, w.status, w.executor_id, "
            "min(o.started_at_epoch_ms), max(o.completed_at_epoch_ms) "
            "FROM dbos.workflow_status w LEFT JOIN dbos.operation_outputs o "
            "ON o.workflow_uuid = w.workflow_uuid WHERE w.name = %s "
            "GROUP BY w.workflow_uuid, w.status, w.executor_id",
            (name,),
        ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2]), int(r[3] or 0), int(r[4] or 0)) for r in rows]
