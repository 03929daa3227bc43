"""Sessions: 35 idle minutes on the injectable clock, reset by every call, bound to the dev key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from billbridge.simulator import SimConfig

from .support import error_code, sign_in

IDLE = 35 * 60


@pytest.fixture
def sim_config(frozen_config: SimConfig) -> SimConfig:
    return frozen_config


async def advance(http: httpx.AsyncClient, seconds: float) -> None:
    (await http.post("/_sim/clock/advance", json={"seconds": seconds})).raise_for_status()


async def test_session_dies_at_exactly_35_idle_minutes(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    demo = await sign_in(sim_http, sim_world)
    await advance(sim_http, IDLE - 0.001)
    assert (await demo.get("/vendors", max=1)).status_code == 200
    await advance(sim_http, IDLE)
    response = await demo.get("/vendors", max=1)
    assert (response.status_code, error_code(response)) == (401, "BDC_1109")
    assert response.json()[0]["category"] == "DOWNSTREAM"
    # Dead stays dead, even once the clock stands still.
    assert error_code(await demo.get("/vendors", max=1)) == "BDC_1109"


async def test_every_call_resets_the_idle_timer(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    demo = await sign_in(sim_http, sim_world)
    for _ in range(4):  # 4 x 34 minutes: alive because each call restarts the 35 minutes
        await advance(sim_http, 34 * 60)
        assert (await demo.get("/login/session")).status_code == 200


async def test_failed_calls_do_not_keep_a_session_alive_past_expiry(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    demo = await sign_in(sim_http, sim_world)
    await advance(sim_http, IDLE + 1)
    assert error_code(await demo.get("/login/session")) == "BDC_1109"
    fresh = await sign_in(sim_http, sim_world)
    assert fresh.login["sessionId"] != demo.login["sessionId"]
    assert (await fresh.get("/login/session")).status_code == 200


async def test_session_works_only_with_its_dev_key(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    demo = await sign_in(sim_http, sim_world)
    other_key = sim_world["dev_keys"][1]["key"]
    headers = {"devKey": other_key, "sessionId": demo.login["sessionId"]}
    response = await sim_http.get("/connect/v3/vendors", headers=headers)
    assert error_code(response) == "BDC_1109"
    assert (await demo.get("/vendors", max=1)).status_code == 200


async def test_missing_or_unknown_headers(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    demo = await sign_in(sim_http, sim_world)
    no_key = await sim_http.get("/connect/v3/vendors", headers={"sessionId": demo.login["sessionId"]})
    assert (no_key.status_code, error_code(no_key)) == (401, "BDC_1102")
    no_session = await sim_http.get("/connect/v3/vendors", headers={"devKey": demo.dev_key})
    assert (no_session.status_code, error_code(no_session)) == (401, "BDC_1109")
    unknown = await sim_http.get("/connect/v3/vendors", headers={"devKey": demo.dev_key, "sessionId": "nope"})
    assert error_code(unknown) == "BDC_1109"


async def test_invalidate_kills_every_session(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    first = await sign_in(sim_http, sim_world)
    second = await sign_in(sim_http, sim_world, org=1)
    answer = (await sim_http.post("/_sim/sessions/invalidate")).json()
    assert answer == {"invalidated": 2}
    for demo in (first, second):
        assert error_code(await demo.get("/login/session")) == "BDC_1109"


async def test_clock_is_frozen_and_advances(sim_http: httpx.AsyncClient) -> None:
    before = (await sim_http.get("/_sim/clock")).json()
    assert before["frozen"] is True
    assert before["now"] == "2025-01-15T12:00:00.000+00:00"
    after = (await sim_http.post("/_sim/clock/advance", json={"seconds": 90.5})).json()
    assert after["now"] == "2025-01-15T12:01:30.500+00:00"
    bad = await sim_http.post("/_sim/clock/advance", json={"seconds": -1})
    assert bad.status_code == 400
