"""BILL's in-flight limit across real processes on one PostgreSQL: live calls go first whatever
process runs the syncs, and every kind of BILL request of two servers shares the three slots."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import httpx
import pytest
from cluster import Cluster, link, link_account, running_cluster, sim_stats

from support.processes import start

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

SYNC_LOAD = Path(__file__).resolve().parent / "sync_load.py"
LIVE_CALLS = 20
# Sync requests the simulator may see start during one live call, in rounds of the three slots:
# before the call has announced itself as waiting (its way through the server), none while it
# waits, then on the two slots it leaves while its own request is in flight. Without the
# priority the sync process's polls win the freed slots and live calls wait for many more.
SYNC_REQUESTS_PER_LIVE_CALL = 3 * 3


def _result(log: str) -> dict[str, int]:
    found = re.search(r"^result (\{.*\})$", log, re.MULTILINE)
    assert found, log[-2000:]
    outcome: dict[str, int] = json.loads(found.group(1))
    return outcome


def test_live_calls_are_not_starved_by_syncs_of_another_process(
    tmp_path: Path, postgres_database_url: str
) -> None:
    with running_cluster(tmp_path, postgres_database_url, servers=1) as cluster:
        connection_id = link(cluster)
        # Each request holds its slot for 200 ms, so the sync process keeps all three busy.
        httpx.post(f"{cluster.sim}/_sim/faults", json={"latency_ms": 200}, timeout=10).raise_for_status()
        load = start(
            [sys.executable, str(SYNC_LOAD), "--connection-id", connection_id, "--callers", "6"],
            log=tmp_path / "sync-load.log",
            ready=r"(?m)^running$",
            env=cluster.env,
        )
        try:
            overtaken = []
            statuses = []
            for _ in range(LIVE_CALLS):
                before = sim_stats(cluster)["requests"]
                answer = httpx.get(
                    f"{cluster.apis[0]}/proxy/v3/vendors",
                    params={"max": "1"},
                    headers=cluster.headers(connection_id),
                    timeout=60,
                )
                statuses.append(answer.status_code)
                # Everything the simulator got meanwhile but the live call itself.
                overtaken.append(sim_stats(cluster)["requests"] - before - 1)
            stats = sim_stats(cluster)
        finally:
            load.stop()
        outcome = _result(load.text())
    assert statuses == [200] * LIVE_CALLS
    assert max(overtaken) <= SYNC_REQUESTS_PER_LIVE_CALL, overtaken
    assert outcome.get("200", 0) > 2 * LIVE_CALLS, outcome  # the syncs kept going meanwhile
    assert set(outcome) == {"200"}, outcome
    assert stats["peak_in_flight"] == 3  # the syncs did fill every slot ...
    assert "BDC_1322" not in stats["errors"]  # ... and never a fourth


async def _burst_with_side_calls(
    cluster: Cluster, connection_id: str, token: str
) -> tuple[list[int], int, int]:
    """200 proxied reads over both servers; meanwhile a forced re-login through the first
    server (the keeper) and an MFA challenge through the second. Their statuses."""
    headers = cluster.headers(connection_id)
    first, second = cluster.apis
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=200)) as client:

        async def side_calls() -> tuple[int, int]:
            await asyncio.sleep(0.3)  # the burst is under way (it lasts about 2 s)
            refreshed, challenged = await asyncio.gather(
                client.get(
                    f"{first}/connections/{connection_id}",
                    params={"provider_config_key": "bill-sandbox", "force_refresh": "true"},
                    headers={"Authorization": f"Bearer {cluster.secret_key}"},
                ),
                client.post(
                    f"{second}/connect/mfa/challenge",
                    json={"connectionId": connection_id, "providerConfigKey": "bill-sandbox"},
                    headers={"Authorization": f"Bearer {token}"},
                ),
            )
            assert refreshed.status_code == 200, refreshed.text
            assert challenged.status_code == 200, challenged.text
            return refreshed.status_code, challenged.status_code

        calls = [
            client.get(f"{cluster.apis[i % 2]}/proxy/v3/vendors", params={"max": "5"}, headers=headers)
            for i in range(200)
        ]
        *answers, side = await asyncio.gather(*calls, side_calls())
    return [a.status_code for a in answers], side[0], side[1]  # type: ignore[union-attr,index]


def test_mfa_and_keeper_calls_during_a_burst_never_make_a_fourth(
    tmp_path: Path, postgres_database_url: str
) -> None:
    with running_cluster(tmp_path, postgres_database_url) as cluster:
        connection_id, token = link_account(cluster, "mfa-burst")
        httpx.post(f"{cluster.sim}/_sim/faults", json={"latency_ms": 30}, timeout=10).raise_for_status()
        before = sim_stats(cluster)
        statuses, refreshed, challenged = asyncio.run(_burst_with_side_calls(cluster, connection_id, token))
        stats = sim_stats(cluster)
        codes = httpx.get(f"{cluster.sim}/_sim/mfa/codes", timeout=10).json()["codes"]
    assert statuses == [200] * 200
    assert (refreshed, challenged) == (200, 200)
    assert stats["logins"] == before["logins"] + 1  # the forced re-login
    assert len(codes) == 1  # the MFA challenge reached BILL
    assert stats["peak_in_flight"] <= 3
    assert "BDC_1322" not in stats["errors"]
