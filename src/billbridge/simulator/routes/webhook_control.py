"""``/_sim/webhooks/...``: see and drive the notifications the simulator sends (never part of BILL)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from billbridge.simulator.errors import SimError
from billbridge.simulator.gateway import error_response, json_response, read_json
from billbridge.simulator.state import SimState
from billbridge.simulator.webhook_catalog import EVENT_TYPES


def _state(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


async def deliveries(request: Request) -> Response:
    """``GET /_sim/webhooks/deliveries``: every notification sent or queued, oldest first.

    Query: ``subscription_id``, ``status`` (pending, delivered, failed, abandoned), ``event_type``.
    Each delivery shows its event, URL, status, attempts, response codes, next attempt time and body.
    """
    params = request.query_params
    wanted = {k: params[k] for k in ("subscription_id", "status", "event_type") if k in params}
    found = [
        d.to_json()
        for d in _state(request).webhooks.deliveries.all()
        if wanted.get("subscription_id", d.subscription_id) == d.subscription_id
        and wanted.get("status", d.status) == d.status
        and wanted.get("event_type", d.event_type) == d.event_type
    ]
    return json_response({"deliveries": found})


async def flush(request: Request) -> Response:
    """``POST /_sim/webhooks/flush``: attempt every due notification now and wait for the answers.

    Retries fall due on the simulated clock (2, 4, 8, 16 s): advance it first to flush them.
    """
    await _state(request).webhooks.deliveries.flush()
    return await deliveries(request)


async def raise_event(request: Request) -> Response:
    """``POST /_sim/webhooks/events``: raise an event no record change raises here.

    Body: ``{"event": "payment.failed", "object": {...}, "organization_id": ...}`` (the first
    organization by default). Every enabled subscription of the organization that takes the event
    gets it, as for a record change. Answers ``{"events": [...]}``, one per subscription.
    """
    state = _state(request)
    try:
        body = await read_json(request)
        event, obj = body.get("event"), body.get("object", {})
        if event not in EVENT_TYPES:
            raise SimError("BDC_1129", f"event must be one of the catalog's event types, not {event!r}")
        if not isinstance(obj, dict):
            raise SimError("BDC_1129", "object must be a JSON object")
        org_id = str(body.get("organization_id") or state.world.organizations[0].id)
        if state.world.organization(org_id) is None:
            raise SimError("BDC_1120", f"No organization {org_id}")
    except SimError as error:
        return error_response(state, error, count=False)
    targets: list[dict[str, Any]] = state.subscriptions.matching(org_id, event)
    return json_response({"events": [state.webhooks.notify(sub, event, obj) for sub in targets]})


ROUTES = [
    Route("/_sim/webhooks/deliveries", deliveries, methods=["GET"]),
    Route("/_sim/webhooks/flush", flush, methods=["POST"]),
    Route("/_sim/webhooks/events", raise_event, methods=["POST"]),
]
