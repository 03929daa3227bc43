"""The /_sim/ control surface: world, stats, faults, reset, objects changed behind the client's back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from billbridge.simulator import SimConfig

from .support import Demo, client_for, error_code, sign_in


async def test_world_shape(sim_world: dict[str, Any]) -> None:
    assert sim_world["environment"] == "sandbox"
    assert len(sim_world["organizations"]) == 3
    for org in sim_world["organizations"]:
        assert org["id"].startswith("008")
        assert len(org["id"]) == 20
        admin, second = org["users"][:2]
        assert admin["role"] == "ADMINISTRATOR"
        assert admin["mfa_phone"]
        assert second["mfa_phone"] is None
        assert {"username", "password", "role"} <= set(admin)
    locked = [u for o in sim_world["organizations"] for u in o["users"] if u["locked"]]
    assert len(locked) == 1
    keys = sim_world["dev_keys"]
    assert keys[0]["organization_ids"] == [o["id"] for o in sim_world["organizations"]]
    assert all(set(k["organization_ids"]) < set(keys[0]["organization_ids"]) for k in keys[1:])
    assert [t["organization_id"] for t in sim_world["api_tokens"]] == [
        o["id"] for o in sim_world["organizations"]
    ]


async def test_worlds_share_no_credentials(sim_world: dict[str, Any]) -> None:
    def secrets(world: dict[str, Any]) -> set[str]:
        found = {k["key"] for k in world["dev_keys"]} | {t["token"] for t in world["api_tokens"]}
        for org in world["organizations"]:
            found |= (
                {org["id"]} | {u["password"] for u in org["users"]} | {u["username"] for u in org["users"]}
            )
        return found

    async with client_for(SimConfig(records=5, seed=7, organizations=3, environment="production")) as prod:
        production = (await prod.get("/_sim/world")).json()
    async with client_for(SimConfig(records=5, seed=8, organizations=3)) as other:
        reseeded = (await other.get("/_sim/world")).json()
    async with client_for(SimConfig(records=5, seed=7, organizations=3)) as twin:
        same = (await twin.get("/_sim/world")).json()
    assert secrets(sim_world).isdisjoint(secrets(production))
    assert secrets(sim_world).isdisjoint(secrets(reseeded))
    assert same == sim_world


async def test_stats_count_requests_logins_and_errors(demo: Demo) -> None:
    await demo.get("/vendors")
    await demo.get("/nothing")
    stats = (await demo.http.get("/_sim/stats")).json()
    assert stats["logins"] == 1
    assert stats["requests"] == 3
    assert stats["errors"] == {"BDC_1121": 1}
    assert stats["peak_in_flight"] == 1
    assert stats["sessions"] == 1


async def test_error_rate_fault(demo: Demo) -> None:
    answer = (await demo.http.post("/_sim/faults", json={"error_rate": 1})).json()
    assert answer["error_rate"] == 1.0
    response = await demo.get("/vendors")
    assert (response.status_code, error_code(response)) == (500, "BDC_1001")
    assert response.json()[0]["category"] == "SERVER"
    await demo.http.post("/_sim/faults", json={"error_rate": 0.5})
    statuses = {(await demo.get("/vendors", max=1)).status_code for _ in range(40)}
    assert statuses == {200, 500}


async def test_timeout_fault_hangs_then_fails(demo: Demo) -> None:
    await demo.http.post("/_sim/faults", json={"timeout_rate": 1, "timeout_seconds": 0.05})
    response = await demo.get("/vendors")
    assert (response.status_code, error_code(response)) == (504, "BDC_1001")


async def test_latency_fault_is_reported(sim_http: httpx.AsyncClient) -> None:
    answer = (await sim_http.post("/_sim/faults", json={"latency_ms": 5})).json()
    assert answer == {
        "latency_ms": 5,
        "error_rate": 0.0,
        "timeout_rate": 0.0,
        "timeout_seconds": 60.0,
        "fail_logins": 0,
    }
    assert (await sim_http.get("/_sim/faults")).json()["latency_ms"] == 5


@pytest.mark.parametrize(
    "body", [{"error_rate": 2}, {"latency_ms": "slow"}, {"boom": 1}, {"fail_logins": True}]
)
async def test_bad_faults(sim_http: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await sim_http.post("/_sim/faults", json=body)
    assert (response.status_code, error_code(response)) == (400, "BDC_1129")


async def test_reset(demo: Demo) -> None:
    vendor = (await demo.get("/vendors", max=1)).json()["results"][0]
    await demo.patch(f"/vendors/{vendor['id']}", {"name": "Changed"})
    await demo.http.post("/_sim/faults", json={"latency_ms": 1})
    await demo.http.post("/_sim/clock/advance", json={"seconds": 100})
    assert (await demo.http.post("/_sim/reset")).json() == {"reset": True}
    assert error_code(await demo.get("/vendors")) == "BDC_1109"
    stats = (await demo.http.get("/_sim/stats")).json()
    assert (stats["logins"], stats["sessions"]) == (0, 0)
    assert (await demo.http.get("/_sim/faults")).json()["latency_ms"] == 0
    again = await sign_in(demo.http, demo.world)
    assert (await again.get(f"/vendors/{vendor['id']}")).json() == vendor


async def control(demo: Demo, **body: Any) -> list[dict[str, Any]]:
    answer = await demo.http.post("/_sim/objects", json=body)
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


async def test_objects_behind_the_clients_back(demo: Demo) -> None:
    added = await control(demo, action="add", family="vendors", count=2, fields={"name": "Sneaky"})
    assert [v["name"] for v in added] == ["Sneaky", "Sneaky"]
    target = added[0]["id"]
    changed = await control(
        demo, action="change", family="vendors", id=target, fields={"email": "new@example.com"}
    )
    assert changed[0]["email"] == "new@example.com"
    archived = await control(demo, action="archive", family="vendors", id=target)
    assert archived[0]["archived"] is True
    seen = (await demo.get(f"/vendors/{target}")).json()
    assert (seen["archived"], seen["email"]) == (True, "new@example.com")
    restored = await control(demo, action="restore", family="vendors", id=target)
    assert restored[0]["archived"] is False
    recent = (
        await demo.get("/vendors", filters=f'updatedTime:gte:"{added[0]["createdTime"]}"', max=100)
    ).json()
    assert target in {v["id"] for v in recent["results"]}
    spend = await demo.http.post("/_sim/objects", json={"action": "add", "family": "cards", "space": "spend"})
    assert spend.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"action": "add", "family": "nope"},
        {"action": "explode", "family": "vendors"},
        {"action": "change", "family": "vendors", "id": "00902NOSUCHTHINGGabcd"},
        {"action": "add", "family": "vendors", "organization_id": "00802NOSUCHORGGGabcd"},
    ],
)
async def test_bad_object_changes(sim_http: httpx.AsyncClient, body: dict[str, Any]) -> None:
    assert (await sim_http.post("/_sim/objects", json=body)).status_code in (400, 404)
