"""Two ``billbridge serve`` processes on one PostgreSQL behave as one: a dead BILL session costs a
single login however the callers are spread over the processes, and BILL's limit of three requests
in flight per organization holds across them."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from cluster import Cluster, link, running_cluster, sim_stats

from billbridge.bill import REQUESTS_PER_HOUR
from billbridge.bill.limits import key_digest
from billbridge.cli.demo import demo_credentials
from fixtures_db import libpq_dsn

pytestmark = pytest.mark.postgres

CALLERS = 200


@pytest.fixture
def cluster(tmp_path: Path, postgres_database_url: str) -> Iterator[Cluster]:
    with running_cluster(tmp_path, postgres_database_url) as running:
        yield running


async def storm(cluster: Cluster, connection_id: str) -> list[int]:
    """``CALLERS`` proxied reads at once, alternating between the two servers."""
    headers = cluster.headers(connection_id)
    limits = httpx.Limits(max_connections=CALLERS)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        calls = [
            client.get(f"{cluster.apis[i % 2]}/proxy/v3/vendors", params={"max": "5"}, headers=headers)
            for i in range(CALLERS)
        ]
        answers = await asyncio.gather(*calls)
    return [answer.status_code for answer in answers]


def test_dead_session_costs_one_login_across_two_servers(cluster: Cluster) -> None:
    connection_id = link(cluster)
    # Both servers have used the session, so each holds it in its cache.
    for api in cluster.apis:
        warm = httpx.get(f"{api}/proxy/v3/vendors", headers=cluster.headers(connection_id), timeout=30)
        assert warm.status_code == 200, warm.text
    httpx.post(f"{cluster.sim}/_sim/sessions/invalidate", timeout=10).raise_for_status()
    logins_before = sim_stats(cluster)["logins"]

    statuses = asyncio.run(storm(cluster, connection_id))

    assert statuses == [200] * CALLERS
    stats = sim_stats(cluster)
    assert stats["logins"] - logins_before == 1
    assert stats["peak_in_flight"] <= 3
    assert "BDC_1322" not in stats["errors"]


async def _same_write_on_both(
    cluster: Cluster, connection_id: str, key: str, name: str
) -> list[httpx.Response]:
    """The same keyed create sent three times to each server at once."""
    headers = {**cluster.headers(connection_id), "Idempotency-Key": key}
    body = {"name": name, "accountType": "BUSINESS", "email": "ap@scale.example", "phone": "5550100"}
    async with httpx.AsyncClient(timeout=120) as client:
        calls = [
            client.post(f"{cluster.apis[i % 2]}/proxy/v3/vendors", headers=headers, json=body)
            for i in range(6)
        ]
        return list(await asyncio.gather(*calls))


def test_one_idempotency_key_creates_once_across_two_servers(cluster: Cluster) -> None:
    connection_id = link(cluster)
    name = f"Scale Vendor {uuid.uuid4().hex[:8]}"
    # Slow enough that the duplicates arrive at both servers while the first create runs.
    httpx.post(f"{cluster.sim}/_sim/faults", json={"latency_ms": 400}, timeout=10).raise_for_status()
    requests_before = sim_stats(cluster)["requests"]

    answers = asyncio.run(_same_write_on_both(cluster, connection_id, str(uuid.uuid4()), name))

    assert {answer.status_code for answer in answers} <= {200, 201}, [a.text for a in answers]
    assert len({answer.content for answer in answers}) == 1
    assert sum(answer.headers.get("idempotent-replayed") == "true" for answer in answers) == 5
    assert sim_stats(cluster)["requests"] - requests_before == 1
    vendors = httpx.get(f"{cluster.sim}/_sim/objects", params={"family": "vendors"}, timeout=10).json()
    assert sum(vendor["name"] == name for vendor in vendors["results"]) == 1


def test_a_deletion_on_one_server_is_seen_at_once_by_the_other(cluster: Cluster) -> None:
    connection_id = link(cluster)
    first, second = cluster.apis
    # The second server has the connection (and its BILL session) in its cache.
    warm = httpx.get(f"{second}/proxy/v3/vendors", headers=cluster.headers(connection_id), timeout=30)
    assert warm.status_code == 200, warm.text

    deleted = httpx.delete(
        f"{first}/connections/{connection_id}",
        params={"provider_config_key": "bill-sandbox"},
        headers={"Authorization": f"Bearer {cluster.secret_key}"},
        timeout=30,
    )
    assert deleted.json() == {"success": True}

    # The notice travels asynchronously; the cache's own re-read would take 15 s.
    answers = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        answer = httpx.get(f"{second}/proxy/v3/vendors", headers=cluster.headers(connection_id), timeout=30)
        answers.append(answer)
        if answer.status_code != 200:
            break
        time.sleep(0.05)
    last = answers[-1]
    assert last.status_code == 400, [a.text for a in answers]
    error = last.json()["error"]
    assert error["code"] == "unknown_connection"
    assert connection_id in error["message"]
    assert re.search(r"[Cc]onnection \d+", error["message"]) is None, "no internal row id"


# Requests left in the hour once the test has counted the rest as spent (keeps the test fast;
# the simulator still counts every request it really gets against its own 20,000).
LEFT = 100


def _prespend(database_url: str, dev_key: str) -> int:
    """Count all but ``LEFT`` of this hour's requests of ``dev_key`` as spent, as a busy hour would.

    Returns how many requests were added without being sent.
    """
    hour = int(time.time() // 3600)
    digest = key_digest(dev_key)
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT requests FROM bill_budgets WHERE key_digest = %s AND hour = %s", (digest, hour)
        ).fetchone()
        counted = 0 if row is None else int(row[0])
        added = REQUESTS_PER_HOUR - LEFT - counted
        conn.execute(
            "INSERT INTO bill_budgets (key_digest, hour, requests, logins) VALUES (%s, %s, %s, 0) "
            "ON CONFLICT (key_digest, hour) DO UPDATE SET requests = bill_budgets.requests + %s",
            (digest, hour, added, added),
        )
    return added


def _wait_out_the_top_of_the_hour() -> None:
    # Both sides count in clock hours: a test straddling the top of an hour would see two budgets.
    left = 3600 - time.time() % 3600
    if left < 120:
        time.sleep(left + 1)


async def hammer(cluster: Cluster, connection_id: str, total: int) -> list[httpx.Response]:
    """``total`` proxied reads, 30 at a time, alternating between the two servers."""
    headers = cluster.headers(connection_id)
    gate = asyncio.Semaphore(30)
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=60)) as client:

        async def one(i: int) -> httpx.Response:
            async with gate:
                api = cluster.apis[i % 2]
                return await client.get(f"{api}/proxy/v3/vendors", params={"max": "1"}, headers=headers)

        return list(await asyncio.gather(*(one(i) for i in range(total))))


def test_two_servers_share_one_hourly_budget_of_the_developer_key(
    cluster: Cluster, postgres_database_url: str
) -> None:
    _wait_out_the_top_of_the_hour()
    connection_id = link(cluster)
    dev_key = demo_credentials(cluster.world)["dev_key"]
    for api in cluster.apis:  # each server has reserved a first batch of the hour's budget
        warm = httpx.get(f"{api}/proxy/v3/vendors", headers=cluster.headers(connection_id), timeout=30)
        assert warm.status_code == 200, warm.text
    unsent = _prespend(postgres_database_url, dev_key)

    answers = asyncio.run(hammer(cluster, connection_id, 4 * LEFT))

    stats = sim_stats(cluster)
    # Everything the simulator got this hour, plus what was counted without being sent, stays
    # within BILL's budget: the two servers together never sent more than 20,000.
    assert stats["requests"] + unsent <= REQUESTS_PER_HOUR
    assert "BDC_1144" not in stats["errors"]  # billbridge stopped first; BILL never had to
    served = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    assert len(served) + len(refused) == len(answers)
    assert LEFT - 50 <= len(served) <= LEFT + 40  # at most one unused batch of 20 per server
    seconds = 3600 - time.time() % 3600
    for answer in refused:
        assert abs(int(answer.headers["Retry-After"]) - seconds) <= 60
        assert answer.json()["error"]["code"] == "hourly_budget_spent"
