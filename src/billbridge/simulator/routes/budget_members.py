"""``/v3/spend/budgets/{budgetId}/members``: who belongs to a budget (owners, members, observers)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from billbridge.simulator.errors import SimError
from billbridge.simulator.families import SPEND_CATALOG, GenContext, Record
from billbridge.simulator.families.checks import one_of, require
from billbridge.simulator.families.spend import BUDGET_MEMBERS, BUDGET_ROLES, budget_member
from billbridge.simulator.gateway import json_response, raw_response, read_json
from billbridge.simulator.listing import list_page
from billbridge.simulator.state import SimState
from billbridge.simulator.store import FamilyStore
from billbridge.simulator.world import SimOrganization

MAX_BULK = 100


def _members(state: SimState, org: SimOrganization, budget_id: str) -> FamilyStore:
    budgets = state.data.family(org, SPEND_CATALOG["budgets"], space="spend")
    budget = budgets.get(budget_id)
    users = state.data.family(org, SPEND_CATALOG["users"], space="spend")
    serial = budgets.order.index(budget_id)

    def seed(ctx: GenContext) -> list[Record]:
        if serial >= ctx.records:
            return []  # created through the API: its members come from the create's body
        picks = [(ctx.pick("budget-owner", serial, ctx.records), "OWNER")]
        picks.append((ctx.pick("budget-member", serial, ctx.records), "MEMBER"))
        seen: dict[str, Record] = {}
        for index, role in picks:
            if index < len(users.order) and users.order[index] not in seen:
                user = users.records[users.order[index]]
                seen[user["id"]] = budget_member(user, budget_id, role, budget["createdTime"])
        return list(seen.values())

    return state.data.attached(org, BUDGET_MEMBERS, budget_id, seed)


def _add(state: SimState, org: SimOrganization, store: FamilyStore, budget_id: str, item: Any) -> Record:
    if not isinstance(item, dict):
        raise SimError("BDC_1129", "A budget member is an object with a userId")
    require(item, ("userId",))
    role = one_of(item.get("role", "MEMBER"), BUDGET_ROLES, "role")
    users = state.data.family(org, SPEND_CATALOG["users"], space="spend")
    user = users.records.get(str(item["userId"]))
    if user is None:
        raise SimError("BDC_1129", f"Invalid user id: {item['userId']}")
    if user["id"] in store.records:
        raise SimError("BDC_1129", f"{user['id']} is already a member of this budget")
    return store.insert_as(user["id"], budget_member(user, budget_id, role, state.timestamp()))


def add_from_budget(state: SimState, org: SimOrganization, budget_id: str, body: Record) -> None:
    """A new budget's owners, members and observers become its members (createbudget)."""
    store = _members(state, org, budget_id)
    for role, field in (("OWNER", "owners"), ("MEMBER", "members"), ("OBSERVER", "observers")):
        for user_id in body.get(field) or []:
            if user_id not in store.records:
                _add(state, org, store, budget_id, {"userId": user_id, "role": role})


async def handle(
    state: SimState,
    org: SimOrganization,
    request: Request,
    budgets: FamilyStore,
    budget_id: str,
    rest: list[str],
) -> Response:
    """List, add (one or in bulk), read and remove the members of one budget."""
    budgets.get(budget_id)
    store = _members(state, org, budget_id)
    method = request.method
    if not rest and method == "GET":
        params = request.query_params
        page = list_page(
            store,
            filters=params.get("filters"),
            sort=params.get("sort"),
            max_raw=params.get("max"),
            page=params.get("page"),
        )
        return raw_response(page)
    if not rest and method == "POST":
        return json_response(_add(state, org, store, budget_id, await read_json(request)))
    if rest == ["bulk"] and method == "POST":
        items = await read_json(request, allow_list=True)
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BULK:
            raise SimError("BDC_1129", f"A bulk request takes a list of 1 to {MAX_BULK} members.")
        return json_response([_add(state, org, store, budget_id, item) for item in items])
    if len(rest) == 1 and rest[0] != "bulk":
        if method == "GET":
            return json_response(store.get(rest[0]))
        if method == "DELETE":
            store.delete(rest[0])
            return json_response({})
    raise SimError("BDC_1121")
