"""Two ``billbridge worker`` processes on one PostgreSQL share many connections' syncs and never run
the same (connection, sync) at once, while ``billbridge serve`` on the same database only queues."""

from __future__ import annotations

import itertools
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from worker_stack import BILLBRIDGE, cluster, link
from worker_stack import runs as sync_runs

from fixtures_db import libpq_dsn
from support.processes import clean_environ

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

ORGS = 4
SYNCS = ["vendors", "bills", "customers"]


def test_two_workers_share_the_work_and_never_overlap(tmp_path: Path, postgres_database_url: str) -> None:
    simulator_args = ["--records", "400", "--latency-ms", "40", "--organizations", str(ORGS)]
    env = {"BILLBRIDGE_SYNC_DEFAULTS": ",".join(SYNCS)}
    with cluster(tmp_path, postgres_database_url, simulator_args=simulator_args, env=env) as stack:
        sim, api, secret_key = stack.sim, stack.api, stack.secret_key
        twin = subprocess.run(
            [BILLBRIDGE, "worker", "--id", "w1"],
            env=clean_environ(**stack.env, BILLBRIDGE_DATA_DIR=str(tmp_path / "data-twin")),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert twin.returncode != 0
        assert "another billbridge process runs syncs as 'w1'" in twin.stderr + twin.stdout
        world = httpx.get(f"{sim}/_sim/world", timeout=10).json()
        connections = [link(api, secret_key, world, i) for i in range(ORGS)]
        auth = {"Authorization": f"Bearer {secret_key}"}
        for _ in range(3):  # triggers while runs are going: one more run after, never two at once
            for connection_id in connections:
                answer = httpx.post(
                    f"{api}/sync/trigger",
                    headers=auth,
                    json={
                        "syncs": SYNCS,
                        "provider_config_key": "bill-sandbox",
                        "connection_id": connection_id,
                    },
                    timeout=30,
                )
                assert answer.status_code == 200, answer.text
            time.sleep(0.3)
        dsn = libpq_dsn(postgres_database_url)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            runs = sync_runs(dsn)
            if runs and all(status in ("SUCCESS", "ERROR", "CANCELLED") for _, status, *_ in runs):
                break
            time.sleep(0.5)
        runs = sync_runs(dsn)
        assert runs
        assert {status for _, status, *_ in runs} == {"SUCCESS"}
        assert {executor for _, _, executor, *_ in runs} == {"w1", "w2"}
        by_sync: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for workflow_id, _, _, started, finished in runs:
            key = workflow_id.rsplit(":", 1)[0]
            by_sync[key].append((started, finished))
        assert len(by_sync) == ORGS * len(SYNCS)
        for key, spans in by_sync.items():
            spans.sort()
            for (_, end), (start_next, _) in itertools.pairwise(spans):
                assert start_next >= end, f"two runs of {key} overlapped: {spans}"
        for i, connection_id in enumerate(connections):
            org = world["organizations"][i]["id"]
            for name in SYNCS:
                expected = httpx.get(
                    f"{sim}/_sim/objects", params={"family": name, "organization_id": org}
                ).json()
                records = httpx.get(
                    f"{api}/records",
                    headers={**auth, "Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"},
                    params={
                        "model": {"vendors": "Vendor", "bills": "Bill", "customers": "Customer"}[name],
                        "limit": 10000,
                    },
                    timeout=30,
                ).json()["records"]
                assert len(records) == len(expected["results"]), (connection_id, name)
