"""Connect Events (webhooks) API: ``/connect-events/v3/...`` with devKey + sessionId."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from billbridge.simulator.errors import SimError
from billbridge.simulator.events import EVENT_TYPES
from billbridge.simulator.gateway import (
    Call,
    Handler,
    error_response,
    json_response,
    read_json,
    run_authenticated,
)
from billbridge.simulator.state import SimState


def _idempotency_key(call: Call) -> str:
    key = call.request.headers.get("x-idempotent-key", "")
    try:
        if uuid.UUID(key).version == 4:
            return key
    except ValueError:
        pass
    raise SimError("BDC_1129", "Header X-Idempotent-Key must be a UUID4.")


async def _catalog(call: Call) -> Response:
    return json_response([{"type": kind, "version": "1"} for kind in EVENT_TYPES])


async def _list(call: Call) -> Response:
    return json_response(call.state.subscriptions.list(call.org.id))


async def _create(call: Call) -> Response:
    key = _idempotency_key(call)
    body = await read_json(call.request)
    subs = call.state.subscriptions
    return json_response(subs.create(call.org.id, body, idempotency_key=key, now=call.state.timestamp()))


def _resolve(method: str, path: str) -> Handler | None:
    if path == "events/catalog" and method == "GET":
        return _catalog
    if path == "subscriptions":
        return {"GET": _list, "POST": _create}.get(method)
    segments = path.split("/")
    if segments[0] != "subscriptions" or len(segments) not in (2, 3) or not segments[1]:
        return None
    sub_id = segments[1]
    if len(segments) == 3:
        if segments[2] == "security_key" and method == "POST":
            return lambda call: _rotate(call, sub_id)
        if segments[2] == "test" and method == "POST":
            return lambda call: _test(call, sub_id)
        return None
    if method == "GET":
        return lambda call: _get(call, sub_id)
    if method in ("PATCH", "PUT"):
        return lambda call: _update(call, sub_id)
    if method == "DELETE":
        return lambda call: _delete(call, sub_id)
    return None


async def _get(call: Call, sub_id: str) -> Response:
    return json_response(call.state.subscriptions.get(call.org.id, sub_id))


async def _update(call: Call, sub_id: str) -> Response:
    body = await read_json(call.request)
    return json_response(
        call.state.subscriptions.update(call.org.id, sub_id, body, now=call.state.timestamp())
    )


async def _delete(call: Call, sub_id: str) -> Response:
    call.state.subscriptions.delete(call.org.id, sub_id)
    return json_response({})


async def _rotate(call: Call, sub_id: str) -> Response:
    _idempotency_key(call)
    return json_response(call.state.subscriptions.rotate_key(call.org.id, sub_id))


async def _test(call: Call, sub_id: str) -> Response:
    call.state.subscriptions.get(call.org.id, sub_id)
    return json_response({})


async def events_endpoint(request: Request) -> Response:
    """Every ``/connect-events/v3/...`` request."""
    state: SimState = request.app.state.sim
    state.stats.requests += 1
    try:
        handler = _resolve(request.method, request.path_params["path"])
        if handler is None:
            raise SimError("BDC_1121")
        return await run_authenticated(state, request, handler)
    except SimError as error:
        return error_response(state, error)
