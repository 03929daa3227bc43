"""BILL's limits against the simulator: 3 in flight per organization, hourly budgets, S&E per minute."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from billbridge.bill import ApiTokenAuth, BillClient, Limits, SessionAuth
from billbridge.errors import RateLimitError
from billbridge.simulator import SimConfig

from .conftest import Demo, log_in, sim_bill_client, sim_stats

START = 1_750_001_000.0  # 2025-06-15T15:23:20Z, frozen
NEXT_HOUR = datetime(2025, 6, 15, 16, tzinfo=UTC)


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(records=20, organizations=2, clock_start=START)


def own_world(**options: Any) -> pytest.MarkDecorator:
    """Give a test a small world of its own: ``options`` for ``SimConfig``, frozen at START unless set."""
    config = SimConfig(**{"records": 5, "organizations": 1, "clock_start": START, **options})
    return pytest.mark.parametrize("sim_config", [config], ids=["own-world"])


async def test_a_fourth_concurrent_request_is_refused_by_the_simulator(
    sim_http: httpx.AsyncClient, session: SessionAuth
) -> None:
    await sim_http.post("/_sim/faults", json={"latency_ms": 500})
    answers = await asyncio.gather(
        *(sim_http.get("/connect/v3/vendors", headers=session.headers) for _ in range(4))
    )
    refused = [a for a in answers if a.status_code != 200]
    assert len(refused) == 1
    assert refused[0].json()[0]["code"] == "BDC_1322"


async def test_the_client_never_sends_a_fourth(
    sim_client: BillClient, sim_http: httpx.AsyncClient, session: SessionAuth
) -> None:
    await sim_http.post("/_sim/faults", json={"latency_ms": 50})
    answers = await asyncio.gather(
        *(sim_client.request("GET", "/v3/vendors", auth=session, params={"max": 1}) for _ in range(10))
    )
    assert all(len(a["results"]) == 1 for a in answers)
    counts = await sim_stats(sim_http)
    assert counts["peak_in_flight"] == 3
    assert "BDC_1322" not in counts["errors"]
    assert sim_client.limits.in_flight(*session.limit_key) == 0


async def test_other_organizations_have_their_own_three(
    sim_client: BillClient, sim_http: httpx.AsyncClient, demo: Demo, sim_world: dict[str, Any]
) -> None:
    org = sim_world["organizations"][1]
    user = org["users"][0]
    first = await log_in(sim_client, demo)
    second = await log_in(
        sim_client, demo, username=user["username"], password=user["password"], organization_id=org["id"]
    )
    await sim_http.post("/_sim/faults", json={"latency_ms": 500})
    started = [asyncio.create_task(sim_client.session_info(auth)) for auth in (first, second) * 3]
    # Six calls, two organizations: all six get in flight at once (none waits for a slot).
    both = (0, 0)
    for _ in range(100):
        both = (sim_client.limits.in_flight(*first.limit_key), sim_client.limits.in_flight(*second.limit_key))
        if both == (3, 3):
            break
        await asyncio.sleep(0.005)
    assert both == (3, 3)
    await asyncio.gather(*started)
    assert (await sim_stats(sim_http))["peak_in_flight"] == 3


async def test_the_hourly_request_budget_is_enforced_before_bill_refuses(
    sim_app: Any, sim_http: httpx.AsyncClient, demo: Demo
) -> None:
    limits = Limits(requests_per_hour=5, clock=lambda: START)
    async with sim_bill_client(sim_app, limits=limits) as client:
        auth = await log_in(client, demo)
        assert (limits.requests_left(demo.dev_key), limits.logins_left(demo.dev_key)) == (4, 199)
        for left in (3, 2, 1, 0):
            await client.session_info(auth)
            assert limits.requests_left(demo.dev_key) == left
        sent = (await sim_stats(sim_http))["requests"]
        with pytest.raises(RateLimitError) as caught:
            await client.session_info(auth)
        assert caught.value.code == "hourly_budget_spent"
        assert caught.value.reset_at == NEXT_HOUR == limits.reset_at()
        assert (await sim_stats(sim_http))["requests"] == sent  # never sent


@own_world(login_budget=2)
async def test_bill_refusing_the_login_budget_spends_ours(
    sim_app: Starlette, sim_http: httpx.AsyncClient, demo: Demo
) -> None:
    async with sim_bill_client(sim_app, limits=Limits(clock=lambda: START)) as client:
        await log_in(client, demo)
        await log_in(client, demo)
        with pytest.raises(RateLimitError) as caught:
            await log_in(client, demo)
        assert caught.value.code == "BDC_1144"
        assert caught.value.reset_at == NEXT_HOUR
        assert client.limits.logins_left(demo.dev_key) == 0
        failures = (await sim_stats(sim_http))["login_failures"]
        with pytest.raises(RateLimitError) as local:
            await log_in(client, demo)
        assert local.value.code == "hourly_budget_spent"
        assert (await sim_stats(sim_http))["login_failures"] == failures


# Ten minutes before the hour, so the session outlives the wait (35 idle minutes).
WAIT_START = 1_750_002_600.0  # 2025-06-15T15:50:00Z


@own_world(clock_start=WAIT_START, request_budget=3)
async def test_wait_mode_sleeps_until_bills_hour_turns(
    sim_app: Starlette, sim_http: httpx.AsyncClient, demo: Demo
) -> None:
    now = [WAIT_START]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        # Time passes for both sides: our clock and the simulator's.
        slept.append(seconds)
        now[0] += seconds
        await sim_http.post("/_sim/clock/advance", json={"seconds": seconds})

    limits = Limits(clock=lambda: now[0])
    async with sim_bill_client(sim_app, limits=limits, on_rate_limit="wait", sleep=sleep) as client:
        auth = await log_in(client, demo)
        for _ in range(4):
            await client.session_info(auth)
        assert slept == [10 * 60 + 1.0]
        assert (await sim_stats(sim_http))["errors"] == {"BDC_1144": 1}


@own_world(spend_per_minute=2)
async def test_spend_calls_use_the_api_token_and_a_per_minute_budget(sim_app: Starlette, demo: Demo) -> None:
    token = ApiTokenAuth(SecretStr(demo.api_token), demo.organization_id)
    async with sim_bill_client(sim_app, limits=Limits(clock=lambda: START)) as client:
        users = [u async for u in client.iterate("/v3/spend/users", auth=token, max=50)]
        assert users
        assert all("id" in u for u in users)
        await client.request("GET", "/v3/spend/budgets", auth=token)
        with pytest.raises(RateLimitError) as caught:
            await client.request("GET", "/v3/spend/users", auth=token)
        assert caught.value.http_status == 429
        assert caught.value.reset_at == datetime(2025, 6, 15, 15, 24, tzinfo=UTC)
