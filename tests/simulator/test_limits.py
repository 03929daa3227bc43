"""Limits: 3 in flight per (dev key, organization), hourly request budget, S&E calls per minute."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from billbridge.simulator import SimConfig

from .support import client_for, credentials, error_code, sign_in

START = 1_736_942_400.0  # 12:00:00 on the hour


async def test_fourth_concurrent_request_is_refused(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    demo = await sign_in(sim_http, sim_world)
    other_org = await sign_in(sim_http, sim_world, org=1)
    await sim_http.post("/_sim/faults", json={"latency_ms": 400})
    answers = await asyncio.gather(
        *(demo.get("/vendors", max=1) for _ in range(4)), other_org.get("/vendors", max=1)
    )
    statuses = sorted(r.status_code for r in answers[:4])
    assert statuses == [200, 200, 200, 400]
    refused = next(r for r in answers[:4] if r.status_code == 400)
    assert error_code(refused) == "BDC_1322"
    assert refused.json()[0]["message"] == "Max number of concurrent requests per organization reached."
    assert answers[4].status_code == 200  # another organization has its own three slots
    stats = (await sim_http.get("/_sim/stats")).json()
    assert stats["peak_in_flight"] == 3
    assert stats["in_flight"] == 0
    assert stats["errors"]["BDC_1322"] == 1


async def test_slots_come_back_after_errors(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    demo = await sign_in(sim_http, sim_world)
    await sim_http.post("/_sim/faults", json={"error_rate": 1.0})
    for _ in range(5):
        assert (await demo.get("/vendors")).status_code == 500
    await sim_http.post("/_sim/faults", json={"error_rate": 0.0})
    answers = await asyncio.gather(*(demo.get("/vendors", max=1) for _ in range(3)))
    assert [r.status_code for r in answers] == [200, 200, 200]


async def test_hourly_request_budget() -> None:
    async with client_for(SimConfig(records=5, request_budget=5, clock_start=START)) as http:
        world = (await http.get("/_sim/world")).json()
        demo = await sign_in(http, world)  # the login is request 1
        for _ in range(4):
            assert (await demo.get("/vendors", max=1)).status_code == 200
        refused = await demo.get("/vendors", max=1)
        assert (refused.status_code, error_code(refused)) == (400, "BDC_1144")
        assert refused.json()[0]["message"] == "Max number of allowed requests per hour reached: 5."
        assert refused.json()[0]["category"] == "DOWNSTREAM"
        # Another developer key has its own budget.
        assert (await http.post("/connect/v3/login", json=credentials(world, key=1))).status_code == 200
        # The budget is checked before the session: still BDC_1144 one second before the hour.
        # At the top of the hour it is back (the session idled 60 minutes, so sign in again).
        await http.post("/_sim/clock/advance", json={"seconds": 3599})
        assert error_code(await demo.get("/vendors", max=1)) == "BDC_1144"
        await http.post("/_sim/clock/advance", json={"seconds": 1})
        again = await sign_in(http, world)
        assert (await again.get("/vendors", max=1)).status_code == 200


async def test_spend_calls_per_minute() -> None:
    async with client_for(SimConfig(records=5, spend_per_minute=3, clock_start=START)) as http:
        world = (await http.get("/_sim/world")).json()
        headers = {"apiToken": world["api_tokens"][0]["token"]}
        for _ in range(3):
            assert (await http.get("/connect/v3/spend/users", headers=headers)).status_code == 200
        refused = await http.get("/connect/v3/spend/users", headers=headers)
        assert (refused.status_code, error_code(refused)) == (429, "BDC_1144")
        other = {"apiToken": world["api_tokens"][1]["token"]}
        assert (await http.get("/connect/v3/spend/users", headers=other)).status_code == 200
        await http.post("/_sim/clock/advance", json={"seconds": 60})
        assert (await http.get("/connect/v3/spend/users", headers=headers)).status_code == 200
