"""Spend & Expense: ``/v3/spend/...`` behind the ``apiToken`` header, 60 calls a minute per token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from billbridge.simulator.errors import SimError
from billbridge.simulator.families import SPEND_CATALOG, FamilySpec
from billbridge.simulator.families.base import Record
from billbridge.simulator.families.checks import require
from billbridge.simulator.gateway import apply_faults, json_response, raw_response, read_json
from billbridge.simulator.listing import list_page
from billbridge.simulator.routes import budget_members
from billbridge.simulator.state import SimState
from billbridge.simulator.store import FamilyStore
from billbridge.simulator.world import SimOrganization


def _organization(state: SimState, request: Request) -> tuple[SimOrganization, str]:
    token = request.headers.get("apitoken")
    found = state.world.api_token(token) if token else None
    if found is None:
        raise SimError("BDC_1101", "API token is invalid.")
    org = state.world.organization(found.organization_id)
    if org is None:
        raise SimError("BDC_1101", "API token is invalid.")
    return org, found.token


def _list(store: FamilyStore, request: Request) -> Response:
    params = request.query_params
    return raw_response(
        list_page(
            store,
            filters=params.get("filters"),
            sort=params.get("sort"),
            max_raw=params.get("max"),
            page=params.get("page"),
        )
    )


async def handle(state: SimState, request: Request, path: str) -> Response:
    """Serve one S&E call (``path`` is below ``/v3/spend/``)."""
    method = request.method
    segments = path.split("/")
    spec = SPEND_CATALOG.get(segments[0])
    rest = segments[1:]
    members = spec is SPEND_CATALOG["budgets"] and len(rest) >= 2 and rest[1] == "members"
    custom = spec is SPEND_CATALOG["transactions"] and rest[1:] == ["custom-fields"]
    if spec is None or (len(rest) > 1 and not (members or custom)) or len(rest) > 3:
        raise SimError("BDC_1121")
    if any(not s for s in rest):
        raise SimError("BDC_1121")
    org, token = _organization(state, request)
    state.limits.count_spend(token, state.now())
    await apply_faults(state)
    store = state.data.family(org, spec, space="spend")
    if members:
        return await budget_members.handle(state, org, request, store, rest[0], rest[2:])
    if custom:
        if method != "PUT":
            raise SimError("BDC_1121")
        return json_response(await _set_custom_fields(state, org, request, store, rest[0]))
    if not rest:
        if method == "GET":
            return _list(store, request)
        if method == "POST" and spec.creatable:
            body = await read_json(request)
            created = store.create(body, now=state.timestamp())
            if spec.path == "budgets":
                budget_members.add_from_budget(state, org, created["id"], body)
            return json_response(created)
        raise SimError("BDC_1121")
    return await _one(state, request, spec, store, rest[0])


async def _set_custom_fields(
    state: SimState, org: SimOrganization, request: Request, transactions: FamilyStore, transaction_id: str
) -> Record:
    """``PUT /v3/spend/transactions/{id}/custom-fields`` (updatetransactioncustomfields): set the
    selected values (or the note) of custom fields on a transaction that is not locked."""
    transaction = transactions.get(transaction_id)
    body = await read_json(request)
    items = body.get("customFields")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise SimError("BDC_1108", "Missing required field: customFields")
    if transaction.get("isLocked"):
        raise SimError("BDC_1129", "The transaction is locked: its custom fields cannot change")
    fields = state.data.family(org, SPEND_CATALOG["custom-fields"], space="spend")
    chosen = {entry["customFieldId"]: entry for entry in transaction.get("customFields") or []}
    for item in items:
        require(item, ("customFieldId",))
        if str(item["customFieldId"]) not in fields.records:
            raise SimError("BDC_1129", f"Invalid customFieldId: {item['customFieldId']}")
        values = item.get("selectedValues", [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise SimError("BDC_1129", "selectedValues must be a list of value ids")
        entry = {"customFieldId": str(item["customFieldId"]), "selectedValues": values}
        if item.get("note") is not None:
            entry["note"] = str(item["note"])
        chosen[entry["customFieldId"]] = entry
    return transactions.force(transaction_id, {"customFields": list(chosen.values())}, now=state.timestamp())


async def _one(
    state: SimState, request: Request, spec: FamilySpec, store: FamilyStore, item: str
) -> Response:
    method = request.method
    record_id = store.order[0] if spec.path == "users" and item == "current" else item
    if method == "GET":
        store.get(record_id)
        return raw_response(store.encoded[record_id])
    if method == "PATCH" and (spec.creatable or spec.path == "transactions"):
        body = await read_json(request)
        return json_response(store.update(record_id, body, now=state.timestamp()))
    if method == "DELETE" and spec.path == "users":
        # A deleted S&E user is gone: no longer listed, and reading it is BDC_1120.
        store.delete(record_id)
        return json_response({})
    if method == "DELETE" and spec.path in ("cards", "budgets"):
        # Deleting a card closes it and a budget retires; both stay readable (guessed).
        field, value = ("status", "CLOSED") if spec.path == "cards" else ("retired", True)
        store.set_field(record_id, field, value, now=state.timestamp())
        return json_response({})
    raise SimError("BDC_1121")
