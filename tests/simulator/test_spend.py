"""Spend & Expense: apiToken auth (never devKey/sessionId), lists, create, update, delete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from billbridge.simulator import SimConfig

from .support import client_for, error_code, sign_in

FAMILIES = ["users", "budgets", "cards", "transactions", "reimbursements", "custom-fields"]


def token(world: dict[str, Any], org: int = 0) -> dict[str, str]:
    return {"apiToken": world["api_tokens"][org]["token"]}


@pytest.mark.parametrize("family", FAMILIES)
async def test_lists_and_gets(sim_http: httpx.AsyncClient, sim_world: dict[str, Any], family: str) -> None:
    page = (await sim_http.get(f"/connect/v3/spend/{family}", headers=token(sim_world))).json()
    assert len(page["results"]) == 20
    assert "nextPage" in page
    one = page["results"][3]
    got = await sim_http.get(f"/connect/v3/spend/{family}/{one['id']}", headers=token(sim_world))
    assert got.json() == one


async def test_token_is_required_and_per_organization(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    missing = await sim_http.get("/connect/v3/spend/users")
    assert (missing.status_code, error_code(missing)) == (401, "BDC_1101")
    wrong = await sim_http.get("/connect/v3/spend/users", headers={"apiToken": "nope"})
    assert error_code(wrong) == "BDC_1101"
    demo = await sign_in(sim_http, sim_world)
    session_only = await sim_http.get("/connect/v3/spend/users", headers=demo.headers)
    assert error_code(session_only) == "BDC_1101"
    mine = (await sim_http.get("/connect/v3/spend/users", headers=token(sim_world, 0))).json()["results"]
    theirs = (await sim_http.get("/connect/v3/spend/users", headers=token(sim_world, 1))).json()["results"]
    assert {u["id"] for u in mine}.isdisjoint({u["id"] for u in theirs})


async def test_sandbox_token_is_unknown_in_production(sim_world: dict[str, Any]) -> None:
    async with client_for(SimConfig(records=5, environment="production")) as prod:
        response = await prod.get("/connect/v3/spend/users", headers=token(sim_world))
        assert (response.status_code, error_code(response)) == (401, "BDC_1101")


async def test_current_user_create_update_delete(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    headers = token(sim_world)
    current = (await sim_http.get("/connect/v3/spend/users/current", headers=headers)).json()
    assert current["role"] == "ADMIN"
    body = {"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com", "role": "MEMBER"}
    created = (await sim_http.post("/connect/v3/spend/users", headers=headers, json=body)).json()
    assert created["email"] == "grace@example.com"
    assert created["retired"] is False
    patched = await sim_http.patch(
        f"/connect/v3/spend/users/{created['id']}", headers=headers, json={"role": "AUDITOR"}
    )
    assert patched.json()["role"] == "AUDITOR"
    assert (
        await sim_http.delete(f"/connect/v3/spend/users/{created['id']}", headers=headers)
    ).status_code == 200
    after = (await sim_http.get(f"/connect/v3/spend/users/{created['id']}", headers=headers)).json()
    assert after["retired"] is True
    incomplete = await sim_http.post("/connect/v3/spend/users", headers=headers, json={"firstName": "X"})
    assert error_code(incomplete) == "BDC_1108"
    read_only = await sim_http.post("/connect/v3/spend/transactions", headers=headers, json={})
    assert error_code(read_only) == "BDC_1121"


async def test_transaction_filters_and_single_sort(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    params = {"filters": 'syncStatus:in:"NOT_SYNCED,ERROR"', "sort": "amount:desc", "max": 50}
    page = (
        await sim_http.get("/connect/v3/spend/transactions", headers=token(sim_world), params=params)
    ).json()
    amounts = [t["amount"] for t in page["results"]]
    assert amounts == sorted(amounts, reverse=True)
    assert {t["syncStatus"] for t in page["results"]} <= {"NOT_SYNCED", "ERROR"}
