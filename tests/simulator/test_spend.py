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
    # A deleted user is gone: not read, not listed.
    after = await sim_http.get(f"/connect/v3/spend/users/{created['id']}", headers=headers)
    assert (after.status_code, error_code(after)) == (404, "BDC_1120")
    listed = await sim_http.get("/connect/v3/spend/users", headers=headers, params={"max": 100})
    assert created["id"] not in {u["id"] for u in listed.json()["results"]}
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


async def post(http: httpx.AsyncClient, world: dict[str, Any], path: str, body: Any) -> httpx.Response:
    return await http.post(f"/connect/v3/spend/{path}", headers=token(world), json=body)


async def first(http: httpx.AsyncClient, world: dict[str, Any], family: str) -> str:
    page = (await http.get(f"/connect/v3/spend/{family}", headers=token(world))).json()
    record_id: str = page["results"][1]["id"]
    return record_id


@pytest.mark.parametrize(
    ("missing", "code"),
    [("name", "BDC_1108"), ("owners", "BDC_1108"), ("recurringInterval", "BDC_1108")],
)
async def test_budget_required_fields(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any], missing: str, code: str
) -> None:
    owner = await first(sim_http, sim_world, "users")
    body = {"name": "Travel", "owners": [owner], "recurringInterval": "MONTHLY"}
    del body[missing]
    assert error_code(await post(sim_http, sim_world, "budgets", body)) == code


async def test_budget_create_checks_enums_and_people_and_lists_members(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    owner, member = (
        await first(sim_http, sim_world, "users"),
        (await sim_http.get("/connect/v3/spend/users", headers=token(sim_world))).json()["results"][2]["id"],
    )
    body = {"name": "Travel", "owners": [owner], "members": [member], "recurringInterval": "MONTHLY"}
    assert error_code(
        await post(sim_http, sim_world, "budgets", {**body, "recurringInterval": "HOURLY"})
    ) == ("BDC_1129")
    assert (
        error_code(await post(sim_http, sim_world, "budgets", {**body, "owners": ["nobody"]})) == "BDC_1129"
    )
    budget = (await post(sim_http, sim_world, "budgets", body)).json()
    assert budget["retired"] is False
    assert "owners" not in budget
    members_path = f"/connect/v3/spend/budgets/{budget['id']}/members"
    listed = (await sim_http.get(members_path, headers=token(sim_world))).json()["results"]
    assert {(m["id"], m["role"]) for m in listed} == {(owner, "OWNER"), (member, "MEMBER")}
    third = (await sim_http.get("/connect/v3/spend/users", headers=token(sim_world))).json()["results"][3]
    added = await sim_http.post(members_path, headers=token(sim_world), json={"userId": third["id"]})
    assert added.json()["role"] == "MEMBER"
    again = await sim_http.post(members_path, headers=token(sim_world), json={"userId": third["id"]})
    assert error_code(again) == "BDC_1129"
    gone = await sim_http.delete(f"{members_path}/{member}", headers=token(sim_world))
    assert gone.status_code == 200
    listed = (await sim_http.get(members_path, headers=token(sim_world))).json()["results"]
    assert member not in {m["id"] for m in listed}


async def test_seeded_budgets_have_members(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    budget = await first(sim_http, sim_world, "budgets")
    path = f"/connect/v3/spend/budgets/{budget}/members"
    members = (await sim_http.get(path, headers=token(sim_world))).json()["results"]
    assert "OWNER" in {m["role"] for m in members}
    retired = await sim_http.get(path, headers=token(sim_world), params={"filters": "retired:eq:true"})
    assert retired.json()["results"] == []


async def test_card_references_must_exist(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    user, budget = await first(sim_http, sim_world, "users"), await first(sim_http, sim_world, "budgets")
    body = {"name": "Travel card", "userId": user, "budgetId": budget}
    assert (
        error_code(await post(sim_http, sim_world, "cards", {**body, "userId": "VXNlcjo5OTk5"})) == "BDC_1129"
    )
    assert error_code(await post(sim_http, sim_world, "cards", {**body, "budgetId": "nope"})) == "BDC_1129"
    card = (await post(sim_http, sim_world, "cards", body)).json()
    assert (card["userId"], card["budgetId"]) == (user, budget)
    assert "lastFour" not in card  # nothing invented


async def test_user_role_is_an_enum(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    body = {"firstName": "A", "lastName": "B", "email": "ab@example.com", "role": "OWNER"}
    assert error_code(await post(sim_http, sim_world, "users", body)) == "BDC_1129"


async def test_transactions_patch_and_parent_budget(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    page = (await sim_http.get("/connect/v3/spend/transactions", headers=token(sim_world))).json()
    assert all("parentBudgetUuid" in t for t in page["results"])
    one = page["results"][0]
    path = f"/connect/v3/spend/transactions/{one['id']}"
    patched = await sim_http.patch(path, headers=token(sim_world), json={"syncStatus": "SYNCED"})
    assert patched.json()["syncStatus"] == "SYNCED"
    assert patched.json()["updatedTime"] >= one["updatedTime"]
    fixed = await sim_http.patch(path, headers=token(sim_world), json={"amount": 1})
    assert error_code(fixed) == "BDC_1129"


async def test_transaction_custom_fields(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    headers = token(sim_world)
    page = (await sim_http.get("/connect/v3/spend/transactions", headers=headers, params={"max": 50})).json()
    open_one = next(t for t in page["results"] if not t["isLocked"])
    locked = next(t for t in page["results"] if t["isLocked"])
    field = await first(sim_http, sim_world, "custom-fields")
    body = {"customFields": [{"customFieldId": field, "selectedValues": ["v1"]}]}
    path = "/connect/v3/spend/transactions/{}/custom-fields"
    done = (await sim_http.put(path.format(open_one["id"]), headers=headers, json=body)).json()
    assert done["customFields"] == [{"customFieldId": field, "selectedValues": ["v1"]}]
    refused = await sim_http.put(path.format(locked["id"]), headers=headers, json=body)
    assert error_code(refused) == "BDC_1129"
    unknown = {"customFields": [{"customFieldId": "nope", "selectedValues": []}]}
    assert (
        error_code(await sim_http.put(path.format(open_one["id"]), headers=headers, json=unknown))
        == "BDC_1129"
    )
    empty = await sim_http.put(path.format(open_one["id"]), headers=headers, json={"customFields": []})
    assert error_code(empty) == "BDC_1108"
