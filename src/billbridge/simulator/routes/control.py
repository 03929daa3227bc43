"""The ``/_sim/`` control surface tests and benchmarks drive (never part of BILL)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from billbridge.simulator.errors import SimError
from billbridge.simulator.families import CATALOG, SPEND_CATALOG
from billbridge.simulator.gateway import error_response, json_response, read_json
from billbridge.simulator.routes import attachments
from billbridge.simulator.state import SimState
from billbridge.simulator.store import FamilyStore
from billbridge.simulator.world import user_json


def _state(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


async def world(request: Request) -> Response:
    """``GET /_sim/world``: organizations with users and passwords, dev keys, API tokens."""
    return json_response(_state(request).world.to_json())


async def stats(request: Request) -> Response:
    """``GET /_sim/stats``: logins, login failures, requests, errors by BDC code, peak in flight."""
    state = _state(request)
    return json_response(
        state.stats.to_json(
            peak_in_flight=state.limits.peak_in_flight,
            in_flight=sum(state.limits.in_flight.values()),
            sessions=len(state.sessions),
        )
    )


async def clock(request: Request) -> Response:
    """``GET /_sim/clock``: the simulated time."""
    state = _state(request)
    return json_response({"now": state.timestamp(), "epoch": state.now(), "frozen": state.clock.is_frozen})


async def advance_clock(request: Request) -> Response:
    """``POST /_sim/clock/advance`` with ``{"seconds": N}``."""
    state = _state(request)
    try:
        body = await read_json(request)
        seconds = body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise SimError("BDC_1129", "seconds must be a number >= 0")
        state.clock.advance(float(seconds))
        state.webhooks.deliveries.kick()  # retries that just fell due
    except SimError as error:
        return error_response(state, error, count=False)
    return await clock(request)


async def invalidate_sessions(request: Request) -> Response:
    """``POST /_sim/sessions/invalidate``: every session dies (the next call gets BDC_1109)."""
    return json_response({"invalidated": _state(request).sessions.invalidate_all()})


async def faults(request: Request) -> Response:
    """``GET|POST /_sim/faults``: read or change latency, error and timeout rates, failing logins."""
    state = _state(request)
    if request.method == "POST":
        try:
            state.faults.update(await read_json(request))
        except SimError as error:
            return error_response(state, error, count=False)
    return json_response(state.faults.to_json())


async def mfa_codes(request: Request) -> Response:
    """``GET /_sim/mfa/codes``: every MFA code "sent" to a phone, newest last."""
    return json_response({"codes": _state(request).mfa.sent_codes()})


async def reset(request: Request) -> Response:
    """``POST /_sim/reset``: fresh data, users as built, no sessions, no faults, zero counters, clock back."""
    _state(request).reset()
    return json_response({"reset": True})


async def users(request: Request) -> Response:
    """``POST /_sim/users``: change a user at "BILL" behind billbridge's back.

    Body: ``{"action": "change_password", "username": ..., "password": ...}`` (the user changed
    their password in BILL), ``{"action": "lock", "username": ...}`` or ``{"action": "unlock", ...}``.
    The username matches in any case, in every organization the user belongs to. Sessions already
    open stay open (``POST /_sim/sessions/invalidate`` ends them); the next ``/v3/login`` needs the
    new password (the old one gets BDC_1101) and a locked user gets BDC_1110. ``POST /_sim/reset``
    restores every user. Answers ``{"users": [...]}``, the changed users as ``GET /_sim/world``
    shows them; BDC_1120 (404) for an unknown username, BDC_1129 (400) for a bad body.
    """
    state = _state(request)
    try:
        body = await read_json(request)
        username = body.get("username")
        if not isinstance(username, str) or not username:
            raise SimError("BDC_1129", "username must be a non-empty string")
        action = body.get("action")
        if action == "change_password":
            password = body.get("password")
            if not isinstance(password, str) or not password:
                raise SimError("BDC_1129", "password must be a non-empty string")
            world = state.world.with_user(username, password=password)
        elif action in ("lock", "unlock"):
            world = state.world.with_user(username, locked=action == "lock")
        else:
            raise SimError("BDC_1129", "action must be change_password, lock or unlock")
        changed = world.users_named(username)
        if not changed:
            raise SimError("BDC_1120", f"No user {username!r}")
    except SimError as error:
        return error_response(state, error, count=False)
    state.world = world
    return json_response({"users": [user_json(user) for user in changed]})


def _family_store(state: SimState, params: dict[str, Any]) -> FamilyStore:
    org_id = params.get("organization_id") or state.world.organizations[0].id
    org = state.world.organization(str(org_id))
    if org is None:
        raise SimError("BDC_1120", f"No organization {org_id}")
    space = params.get("space", "v3")
    catalog = SPEND_CATALOG if space == "spend" else CATALOG
    spec = catalog.get(str(params.get("family", "")))
    if spec is None:
        raise SimError("BDC_1129", f"Unknown family {params.get('family')!r}")
    return state.data.family(org, spec, space="spend" if space == "spend" else "v3")


async def objects(request: Request) -> Response:
    """``GET|POST /_sim/objects``: read every record of a family, or change records behind the client.

    POST body: ``{"action": "add"|"change"|"archive"|"restore", "family": "vendors",
    "organization_id": ..., "id": ..., "fields": {...}, "count": N, "space": "v3"|"spend"}``.
    """
    state = _state(request)
    try:
        if request.method == "GET":
            store = _family_store(state, dict(request.query_params))
            return json_response({"results": [store.records[i] for i in store.order]})
        body = await read_json(request)
        store = _family_store(state, body)
        return json_response({"results": _mutate(state, store, body)})
    except SimError as error:
        return error_response(state, error, count=False)


def _mutate(state: SimState, store: FamilyStore, body: dict[str, Any]) -> list[dict[str, Any]]:
    action = body.get("action")
    fields = body.get("fields") or {}
    if not isinstance(fields, dict):
        raise SimError("BDC_1129", "fields must be an object")
    now = state.timestamp()
    if action == "add":
        count = body.get("count", 1)
        if not isinstance(count, int) or not 1 <= count <= 100_000:
            raise SimError("BDC_1129", "count must be between 1 and 100000")
        return [store.create(fields, now=now, validate=False) for _ in range(count)]
    record_id = str(body.get("id", ""))
    if action == "change":
        return [store.force(record_id, fields, now=now)]
    if action in ("archive", "restore"):
        return [store.set_field(record_id, "archived", action == "archive", now=now)]
    raise SimError("BDC_1129", "action must be add, change, archive or restore")


ROUTES = [
    Route("/_sim/world", world, methods=["GET"]),
    Route("/_sim/stats", stats, methods=["GET"]),
    Route("/_sim/clock", clock, methods=["GET"]),
    Route("/_sim/clock/advance", advance_clock, methods=["POST"]),
    Route("/_sim/sessions/invalidate", invalidate_sessions, methods=["POST"]),
    Route("/_sim/faults", faults, methods=["GET", "POST"]),
    Route("/_sim/mfa/codes", mfa_codes, methods=["GET"]),
    Route("/_sim/reset", reset, methods=["POST"]),
    Route("/_sim/users", users, methods=["POST"]),
    Route("/_sim/objects", objects, methods=["GET", "POST"]),
    Route("/_sim/attachments", attachments.uploaded, methods=["GET"]),
]
