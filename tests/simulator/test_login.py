"""POST /v3/login: success, every refusal, environments, budgets; logout and session details."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from billbridge.simulator import SimConfig, create_app

from .support import credentials, error_code, sign_in


async def test_login_answers_session_and_ids(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    response = await sim_http.post("/connect/v3/login", json=credentials(sim_world))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"sessionId", "organizationId", "userId", "trusted"}
    assert body["organizationId"] == sim_world["organizations"][0]["id"]
    assert body["userId"] == sim_world["organizations"][0]["users"][0]["id"]
    assert body["userId"].startswith("006")
    assert len(body["userId"]) == 20
    assert body["trusted"] is False


async def test_username_is_case_insensitive(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    body = credentials(sim_world)
    body["username"] = body["username"].upper()
    assert (await sim_http.post("/connect/v3/login", json=body)).status_code == 200


@pytest.mark.parametrize(
    ("change", "code", "status"),
    [
        ({"password": "wrong"}, "BDC_1101", 401),
        ({"username": "nobody@example.com"}, "BDC_1101", 401),
        ({"devKey": "NOT-A-KEY"}, "BDC_1102", 401),
        ({"organizationId": "00802AAAAAAAAAAAAAAA"}, "BDC_1101", 401),
        ({"organizationId": "12345"}, "BDC_1123", 400),
        ({"devKey": None}, "BDC_1108", 400),
        ({"username": ""}, "BDC_1108", 400),
        ({"password": 42}, "BDC_1129", 400),
    ],
)
async def test_refusals(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any], change: dict[str, Any], code: str, status: int
) -> None:
    body: dict[str, Any] = {**credentials(sim_world), **change}
    response = await sim_http.post("/connect/v3/login", json=body)
    assert response.status_code == status
    assert error_code(response) == code
    stats = (await sim_http.get("/_sim/stats")).json()
    assert stats["login_failures"] == 1
    assert stats["logins"] == 0
    assert stats["errors"] == {code: 1}


async def test_error_body_is_bill_shaped(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    response = await sim_http.post("/connect/v3/login", json={**credentials(sim_world), "password": "x"})
    (error,) = response.json()
    assert set(error) == {"timestamp", "code", "severity", "category", "message"}
    assert error["severity"] == "ERROR"
    assert error["message"] == "User name and/or password do not match our records."
    assert response.headers["content-type"] == "application/json"


async def test_malformed_json_is_bdc_1122(sim_http: httpx.AsyncClient) -> None:
    response = await sim_http.post("/connect/v3/login", content=b"{not json")
    assert (response.status_code, error_code(response)) == (400, "BDC_1122")


async def test_locked_user_is_bdc_1110(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    users = sim_world["organizations"][0]["users"]
    locked = next(i for i, u in enumerate(users) if u["locked"])
    response = await sim_http.post("/connect/v3/login", json=credentials(sim_world, user=locked))
    assert (response.status_code, error_code(response)) == (403, "BDC_1110")


async def test_second_user_signs_in(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    demo = await sign_in(sim_http, sim_world, org=1, user=1)
    assert demo.login["userId"] == sim_world["organizations"][1]["users"][1]["id"]


async def test_dev_key_only_enters_its_organizations(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    last_key = sim_world["dev_keys"][-1]
    outside = next(
        i for i, o in enumerate(sim_world["organizations"]) if o["id"] not in last_key["organization_ids"]
    )
    response = await sim_http.post(
        "/connect/v3/login", json=credentials(sim_world, org=outside, key=len(sim_world["dev_keys"]) - 1)
    )
    assert (response.status_code, error_code(response)) == (401, "BDC_1102")
    inside = next(
        i for i, o in enumerate(sim_world["organizations"]) if o["id"] in last_key["organization_ids"]
    )
    await sign_in(sim_http, sim_world, org=inside, key=len(sim_world["dev_keys"]) - 1)


async def test_extra_dev_keys_give_each_organization_its_own() -> None:
    app = create_app(SimConfig(records=5, organizations=4, dev_keys=7))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
        world = (await http.get("/_sim/world")).json()
        orgs = [o["id"] for o in world["organizations"]]
        keys = world["dev_keys"]
        assert [k["organization_ids"] for k in keys[3:]] == [[org] for org in orgs]
        assert len({k["key"] for k in keys}) == 7
        for index in range(4):
            await sign_in(http, world, org=index, key=3 + index)
        elsewhere = await http.post("/connect/v3/login", json=credentials(world, org=1, key=3))
        assert (elsewhere.status_code, error_code(elsewhere)) == (401, "BDC_1102")


def test_default_world_keeps_its_three_shared_keys() -> None:
    assert SimConfig().dev_keys == 3
    with pytest.raises(ValueError, match="dev_keys"):
        SimConfig(dev_keys=0)


async def test_wrong_environment_credentials(sim_world: dict[str, Any]) -> None:
    production = create_app(SimConfig(records=5, seed=7, organizations=3, environment="production"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=production), base_url="http://sim"
    ) as prod:
        prod_world = (await prod.get("/_sim/world")).json()
        sandbox_login = credentials(sim_world)
        # Sandbox developer key in production: the key is unknown there.
        response = await prod.post("/connect/v3/login", json=sandbox_login)
        assert error_code(response) == "BDC_1102"
        # Production key, sandbox user and organization: the user is unknown there.
        response = await prod.post(
            "/connect/v3/login", json={**sandbox_login, "devKey": prod_world["dev_keys"][0]["key"]}
        )
        assert error_code(response) == "BDC_1101"
        # Production key and organization with the sandbox password: no match either.
        prod_login = credentials(prod_world)
        response = await prod.post(
            "/connect/v3/login", json={**prod_login, "password": sandbox_login["password"]}
        )
        assert error_code(response) == "BDC_1101"


async def test_login_budget_is_per_dev_key_and_hour() -> None:
    app = create_app(SimConfig(records=5, login_budget=3, clock_start=1_736_942_400.0))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
        world = (await http.get("/_sim/world")).json()
        for _ in range(2):
            await sign_in(http, world)
        wrong = await http.post("/connect/v3/login", json={**credentials(world), "password": "bad"})
        assert error_code(wrong) == "BDC_1101"  # failed logins count too
        refused = await http.post("/connect/v3/login", json=credentials(world))
        assert (refused.status_code, error_code(refused)) == (400, "BDC_1144")
        assert "per hour" in refused.json()[0]["message"]
        other_key = await http.post("/connect/v3/login", json=credentials(world, key=1))
        assert other_key.status_code == 200
        await http.post("/_sim/clock/advance", json={"seconds": 3600})
        await sign_in(http, world)


def test_bill_budgets_are_the_defaults() -> None:
    config = SimConfig()
    assert (config.request_budget, config.login_budget, config.max_in_flight) == (20_000, 200, 3)
    assert (config.spend_per_minute, config.session_idle_seconds) == (60, 35 * 60)


async def test_session_info_and_logout(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    demo = await sign_in(sim_http, sim_world)
    info = (await demo.get("/login/session")).json()
    assert info == {
        "organizationId": demo.org_id,
        "userId": demo.login["userId"],
        "mfaStatus": "COMPLETE",
        "mfaBypass": False,
    }
    orgs = (await demo.get("/login/organizations")).json()
    assert orgs["results"][0]["id"] == demo.org_id
    assert (await demo.post("/logout")).status_code == 200
    after = await demo.get("/login/session")
    assert (after.status_code, error_code(after)) == (401, "BDC_1109")


async def test_organization_details(demo: Any) -> None:
    org = (await demo.get(f"/organizations/{demo.org_id}")).json()
    assert org["id"] == demo.org_id
    assert org["name"] == demo.world["organizations"][0]["name"]
    other = demo.world["organizations"][1]["id"]
    assert error_code(await demo.get(f"/organizations/{other}")) == "BDC_1120"


async def test_fail_logins_fault(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    await sim_http.post("/_sim/faults", json={"fail_logins": 2})
    for _ in range(2):
        response = await sim_http.post("/connect/v3/login", json=credentials(sim_world))
        assert (response.status_code, error_code(response)) == (503, "BDC_1001")
    await sign_in(sim_http, sim_world)
    stats = (await sim_http.get("/_sim/stats")).json()
    assert (stats["logins"], stats["login_failures"]) == (1, 2)
