"""Spend & Expense: ``/v3/spend/...`` behind the ``apiToken`` header, 60 calls a minute per token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from billbridge.simulator.errors import SimError
from billbridge.simulator.families import SPEND_CATALOG, FamilySpec
from billbridge.simulator.gateway import apply_faults, json_response, raw_response, read_json
from billbridge.simulator.listing import list_page
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


async def handle(state: SimState, request: Request, path: str) -> Response:
    """Serve one S&E call (``path`` is below ``/v3/spend/``)."""
    method = request.method
    segments = path.split("/")
    spec = SPEND_CATALOG.get(segments[0])
    rest = segments[1:]
    if spec is None or len(rest) > 1 or any(not s for s in rest):
        raise SimError("BDC_1121")
    org, token = _organization(state, request)
    state.limits.count_spend(token, state.now())
    await apply_faults(state)
    store = state.data.family(org, spec, space="spend")
    if not rest:
        if method == "GET":
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
        if method == "POST" and spec.creatable:
            body = await read_json(request)
            return json_response(store.create(body, now=state.timestamp()))
        raise SimError("BDC_1121")
    return await _one(state, request, spec, store, rest[0])


async def _one(
    state: SimState, request: Request, spec: FamilySpec, store: FamilyStore, item: str
) -> Response:
    method = request.method
    record_id = store.order[0] if spec.path == "users" and item == "current" else item
    if method == "GET":
        store.get(record_id)
        return raw_response(store.encoded[record_id])
    if method == "PATCH" and spec.creatable:
        body = await read_json(request)
        return json_response(store.update(record_id, body, now=state.timestamp()))
    if method == "DELETE" and spec.path in ("users", "cards", "budgets"):
        # S&E deletes retire users and budgets and close cards; the record stays readable.
        field, value = ("status", "CLOSED") if spec.path == "cards" else ("retired", True)
        store.set_field(record_id, field, value, now=state.timestamp())
        return json_response({})
    raise SimError("BDC_1121")
