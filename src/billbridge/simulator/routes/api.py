"""The AP/AR gateway: every ``/connect/v3/...`` request starts here."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from billbridge.simulator.errors import SimError
from billbridge.simulator.gateway import (
    Call,
    Handler,
    error_response,
    json_response,
    read_json,
    run_authenticated,
)
from billbridge.simulator.routes import attachments, auth, objects, spend
from billbridge.simulator.state import SimState


def _organization_record(call: Call) -> dict[str, object]:
    org = call.org
    return {
        "id": org.id,
        "name": org.name,
        "phone": "5550100000",
        "address": {
            "line1": "1 Main St",
            "city": "San Jose",
            "stateOrProvince": "CA",
            "zipOrPostalCode": "95110",
            "country": "US",
        },
        "accountType": "BUSINESS",
        "archived": False,
    }


async def _get_organization(call: Call, org_id: str) -> Response:
    if org_id != call.org.id:
        raise SimError("BDC_1120", f"No organization found with id {org_id}.")
    return json_response(_organization_record(call))


async def _patch_organization(call: Call, org_id: str) -> Response:
    await read_json(call.request)
    return await _get_organization(call, org_id)


def _resolve(method: str, path: str) -> Handler | None:
    handler = auth.ROUTES.get((method, path))
    if handler is not None:
        return handler
    segments = path.split("/")
    if segments[0] == "organizations" and len(segments) == 2 and segments[1]:
        org_id = segments[1]
        if method == "GET":
            return lambda call: _get_organization(call, org_id)
        if method == "PATCH":
            return lambda call: _patch_organization(call, org_id)
        return None
    if segments[0] == "attachments":
        return attachments.resolve(method, segments[1:])
    return objects.resolve(method, path)


async def api_endpoint(request: Request) -> Response:
    """Every ``/connect/v3/...`` request: login, S&E, or an authenticated AP/AR operation."""
    state: SimState = request.app.state.sim
    state.stats.requests += 1
    path: str = request.path_params["path"]
    try:
        if path == "login":
            if request.method != "POST":
                raise SimError("BDC_1121")
            return await auth.login(state, request)
        if path.startswith("spend/"):
            return await spend.handle(state, request, path[len("spend/") :])
        handler = _resolve(request.method, path)
        if handler is None:
            raise SimError("BDC_1121")
        return await run_authenticated(state, request, handler)
    except SimError as error:
        return error_response(state, error)
