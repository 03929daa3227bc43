"""Connect Events (webhooks) API: ``/connect-events/v3/...``.

Callers sign in as an organization (``devKey`` + ``sessionId``, AP/AR events) or with a Spend &
Expense ``apiToken`` (``spend.*`` events). Error statuses follow ``docs/webhook-api-error-responses``:
400 for missing authentication headers, a bad idempotent key, body or parameters (an unknown
subscription or event ID is a bad path parameter); 401 for invalid credentials; 403 when the
subscription is another caller's; 404 for an unknown operation; 429 for rate limits and for a
second request with an idempotent key still in progress; 500 for failures.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from billbridge.simulator.errors import SimError
from billbridge.simulator.families import CATALOG, SPEND_CATALOG, Record
from billbridge.simulator.gateway import (
    apply_faults,
    error_response,
    json_response,
    read_json,
    run_authenticated,
)
from billbridge.simulator.state import SimState
from billbridge.simulator.webhook_catalog import EVENT_VERSION, EVENTS_BY_SCOPE, Scope, family_of

#: Statuses this API gives codes whose status differs on the AP/AR API.
_STATUSES = {"BDC_1144": 429, "BDC_1322": 429}


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated Connect Events call: its organization and kind (AP/AR or S&E)."""

    state: SimState
    request: Request
    org_id: str
    scope: Scope


EventsHandler = Callable[[Caller], Awaitable[Response]]


def idempotency_key(request: Request) -> str:
    """The ``X-Idempotent-Key`` header, which must be a UUID4 (BDC_1129, 400, otherwise)."""
    key = request.headers.get("x-idempotent-key", "")
    try:
        if uuid.UUID(key).version == 4:
            return key
    except ValueError:
        pass
    raise SimError("BDC_1129", "Header X-Idempotent-Key must be a UUID4.")


async def _catalog(c: Caller) -> Response:
    return json_response([{"type": kind, "version": EVENT_VERSION} for kind in EVENTS_BY_SCOPE[c.scope]])


async def _list(c: Caller) -> Response:
    return json_response(c.state.subscriptions.list(c.org_id, c.scope))


async def _idempotent(c: Caller, operation: str, run: Callable[[], Awaitable[dict[str, Any]]]) -> Response:
    subs, key, now = c.state.subscriptions, idempotency_key(c.request), c.state.now()
    answer = subs.replay(c.org_id, operation, key, now)
    if answer is None:
        answer = await run()
        subs.remember(c.org_id, operation, key, answer, now)
    return json_response(answer)


async def _create(c: Caller) -> Response:
    async def run() -> dict[str, Any]:
        body = await read_json(c.request)
        return c.state.subscriptions.create(c.org_id, c.scope, body, now=c.state.timestamp())

    return await _idempotent(c, "create", run)


async def _get(c: Caller, sub_id: str) -> Response:
    return json_response(c.state.subscriptions.get(c.org_id, c.scope, sub_id))


async def _update(c: Caller, sub_id: str, *, replace: bool) -> Response:
    body = await read_json(c.request)
    subs = c.state.subscriptions
    return json_response(
        subs.update(c.org_id, c.scope, sub_id, body, now=c.state.timestamp(), replace=replace)
    )


async def _delete(c: Caller, sub_id: str) -> Response:
    c.state.subscriptions.delete(c.org_id, c.scope, sub_id)
    c.state.webhooks.forget(sub_id)
    return json_response({})


async def _rotate(c: Caller, sub_id: str) -> Response:
    async def run() -> dict[str, Any]:
        return c.state.subscriptions.rotate_key(c.org_id, c.scope, sub_id)

    return await _idempotent(c, f"security_key/{sub_id}", run)


def _sample(c: Caller, event: str) -> Record:
    """A record for a test event: the organization's first record of the event's family."""
    where = family_of(event)
    if where is None:
        return {}
    space, path = where
    spec = (SPEND_CATALOG if space == "spend" else CATALOG).get(path)
    org = c.state.world.organization(c.org_id)
    if spec is None or org is None:
        return {}
    store = c.state.data.family(org, spec, space=space)
    return dict(store.records[store.order[0]]) if store.order else {}


async def _test(c: Caller, sub_id: str) -> Response:
    subscription = c.state.subscriptions.get(c.org_id, c.scope, sub_id)
    event = subscription["events"][0]["type"]
    return json_response(c.state.webhooks.notify(subscription, event, _sample(c, event)))


async def _events(c: Caller, sub_id: str) -> Response:
    c.state.subscriptions.get(c.org_id, c.scope, sub_id)
    params = c.request.query_params
    return json_response(c.state.webhooks.events(sub_id, max_raw=params.get("max"), page=params.get("page")))


async def _resend(c: Caller, sub_id: str, event_id: str) -> Response:
    subscription = c.state.subscriptions.get(c.org_id, c.scope, sub_id)
    return json_response(c.state.webhooks.resend(subscription, event_id))


def _resolve_subscription(method: str, rest: list[str]) -> EventsHandler | None:
    sub_id = rest[0]
    if len(rest) == 1:
        handlers: dict[str, EventsHandler] = {
            "GET": lambda c: _get(c, sub_id),
            "PATCH": lambda c: _update(c, sub_id, replace=False),
            "PUT": lambda c: _update(c, sub_id, replace=True),
            "DELETE": lambda c: _delete(c, sub_id),
        }
        return handlers.get(method)
    # The reference and changelog spell it security_key, the general rules guide security-key.
    if rest[1] in ("security_key", "security-key") and method == "POST":
        return lambda c: _rotate(c, sub_id)
    # Guides show POST, the S&E payload page GET.
    if rest[1] == "test" and method in ("POST", "GET"):
        return lambda c: _test(c, sub_id)
    return None


def resolve(method: str, path: str) -> EventsHandler | None:
    """The handler of ``method path`` (below ``/connect-events/v3``), or None."""
    segments = path.split("/")
    if any(not s for s in segments):
        return None
    if segments == ["events", "catalog"]:
        return _catalog if method == "GET" else None
    if segments[0] == "subscriptions":
        if len(segments) == 1:
            return {"GET": _list, "POST": _create}.get(method)
        return _resolve_subscription(method, segments[1:]) if len(segments) <= 3 else None
    if segments[:2] == ["events", "subscription"] and len(segments) in (3, 5):
        sub_id = segments[2]
        if len(segments) == 3:
            return (lambda c: _events(c, sub_id)) if method == "GET" else None
        if segments[3] == "event" and method == "POST":
            event_id = segments[4]
            return lambda c: _resend(c, sub_id, event_id)
    return None


async def _as_spend(state: SimState, request: Request, handler: EventsHandler) -> Response:
    token = request.headers.get("apitoken", "")
    if not token:
        raise SimError("BDC_1101", "Header apiToken is empty.", status=400)
    found = state.world.api_token(token)
    if found is None:
        raise SimError("BDC_1101", "API token is invalid.")
    state.limits.count_spend(found.token, state.now())
    await apply_faults(state)
    return await handler(Caller(state, request, found.organization_id, "spend"))


async def _authenticated(
    state: SimState, request: Request, handler: EventsHandler, *, spend_only: bool
) -> Response:
    headers = request.headers
    if "apitoken" in headers:
        return await _as_spend(state, request, handler)
    if spend_only:
        raise SimError("BDC_1102", "Spend & Expense subscriptions need the apiToken header.", status=400)
    if not headers.get("devkey"):
        raise SimError("BDC_1102", "Header devKey (or apiToken for Spend & Expense) is missing.", status=400)
    if not headers.get("sessionid"):
        raise SimError("BDC_1109", "Header sessionId is missing.", status=400)
    return await run_authenticated(
        state, request, lambda call: handler(Caller(state, request, call.org.id, "v3"))
    )


async def events_endpoint(request: Request) -> Response:
    """Every ``/connect-events/v3/...`` request."""
    state: SimState = request.app.state.sim
    state.stats.requests += 1
    path: str = request.path_params["path"]
    # The Postman collection creates S&E subscriptions at /v3/spend/subscriptions.
    spend_only = path.startswith("spend/subscriptions")
    if spend_only:
        path = path[len("spend/") :]
    slot: tuple[str, str, str] | None = None
    try:
        handler = resolve(request.method, path)
        if handler is None:
            raise SimError("BDC_1121")
        if request.method == "POST" and (
            path == "subscriptions" or path.endswith(("security_key", "security-key"))
        ):
            who = request.headers.get("sessionid") or request.headers.get("apitoken") or ""
            claimed = (who, path, idempotency_key(request))
            state.subscriptions.begin(*claimed)
            slot = claimed
        return await _authenticated(state, request, handler, spend_only=spend_only)
    except SimError as error:
        if error.code in _STATUSES:
            error.status = _STATUSES[error.code]
        return error_response(state, error)
    finally:
        if slot is not None:
            state.subscriptions.end(*slot)
