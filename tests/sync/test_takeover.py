"""A worker killed for good (``kill -9``, never started again) does not leave its runs pending: a
live worker on the same PostgreSQL takes them over within a bounded time and resumes them from
their last stored page, so the records end equal to the simulator's and stored pages are not
fetched again."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from worker_stack import cluster, link, runs

from fixtures_db import libpq_dsn

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

RECORDS = 4_000
PAGE = 100
TAKEOVER_SECONDS = 1


def _stored(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM records").fetchone()
    return int(row[0]) if row else 0


def _records(api: str, secret_key: str, connection_id: str) -> list[dict[str, Any]]:
    headers = {
        "Authorization": f"Bearer {secret_key}",
        "Connection-Id": connection_id,
        "Provider-Config-Key": "bill-sandbox",
    }
    answer = httpx.get(
        f"{api}/records", headers=headers, params={"model": "Vendor", "limit": 10_000}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    records: list[dict[str, Any]] = answer.json()["records"]
    return records


def test_a_live_worker_takes_over_the_runs_of_a_dead_one(tmp_path: Path, postgres_database_url: str) -> None:
    simulator_args = ["--records", str(RECORDS), "--latency-ms", "120"]
    env = {"BILLBRIDGE_SYNC_DEFAULTS": "vendors", "BILLBRIDGE_WORKER_TAKEOVER_SECONDS": str(TAKEOVER_SECONDS)}
    dsn = libpq_dsn(postgres_database_url)
    with cluster(tmp_path, postgres_database_url, simulator_args=simulator_args, env=env) as stack:
        sim, api, secret_key, workers = stack.sim, stack.api, stack.secret_key, stack.workers
        world = httpx.get(f"{sim}/_sim/world", timeout=10).json()
        connection_id = link(api, secret_key, world, 0)  # its first vendors run is queued

        deadline = time.monotonic() + 120
        while _stored(dsn) < RECORDS // 4:
            assert time.monotonic() < deadline, "the first run never got going"
            time.sleep(0.1)
        [(run_id, status, doomed, *_)] = runs(dsn)
        assert status == "PENDING"
        survivor = next(name for name in workers if name != doomed)
        os.kill(workers[doomed].process.pid, signal.SIGKILL)
        workers[doomed].process.wait(10)
        killed_at = time.monotonic()
        partial = _stored(dsn)
        requests_before = httpx.get(f"{sim}/_sim/stats", timeout=10).json()["requests"]

        deadline = time.monotonic() + 180
        while (current := {r[0]: r for r in runs(dsn)}[run_id])[1] != "SUCCESS":
            assert current[1] in ("PENDING", "ENQUEUED"), current
            assert time.monotonic() < deadline, "the dead worker's run was never taken over"
            time.sleep(0.2)

        assert current[2] == survivor
        # Every part of the run (its windows too) left the dead worker.
        with psycopg.connect(dsn) as conn:
            left = conn.execute(
                "SELECT count(*) FROM dbos.workflow_status WHERE executor_id = %s AND status = 'PENDING'",
                (doomed,),
            ).fetchone()
        assert left is not None
        assert left[0] == 0
        log = workers[survivor].log.read_text(errors="replace")
        assert "sync_runs_taken_over" in log
        assert doomed in log
        expected = httpx.get(f"{sim}/_sim/objects", params={"family": "vendors"}, timeout=30).json()[
            "results"
        ]
        stored = _records(api, secret_key, connection_id)
        assert {r["id"] for r in stored} == {r["id"] for r in expected}
        assert len(stored) == len(expected)
        # Resumed from the last stored pages: only what was missing (plus the pages in flight when
        # the worker died, one per window at most) was fetched again.
        requests_after = httpx.get(f"{sim}/_sim/stats", timeout=10).json()["requests"]
        missing_pages = -(-(RECORDS - partial) // (PAGE - 1))
        assert requests_after - requests_before <= missing_pages + 8 + 2
        assert time.monotonic() - killed_at < 120
