"""Real processes for the worker tests: link an account through ``billbridge serve``, and read the
sync runs DBOS keeps in PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg

BILLBRIDGE = str(Path(sys.executable).parent / "billbridge")
READY = r"listening on (http://127\.0\.0\.1:\d+)"


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
