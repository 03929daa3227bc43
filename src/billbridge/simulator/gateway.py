"""What every API call goes through: responses, body parsing, authentication, limits and faults."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from billbridge.simulator.errors import SimError, error_body
from billbridge.simulator.sessions import Session
from billbridge.simulator.state import SimState
from billbridge.simulator.world import SimOrganization

JSON = "application/json"


def json_response(payload: Any, *, status: int = 200) -> Response:
    """A JSON answer."""
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON)


def raw_response(body: bytes) -> Response:
    """A pre-serialised JSON answer."""
    return Response(body, media_type=JSON)


def error_response(state: SimState, error: SimError, *, count: bool = True) -> Response:
    """BILL's error list for ``error``, counted in the stats unless ``count`` is False."""
    if count:
        state.stats.errors[error.code] += 1
    return Response(error_body(error, timestamp=state.timestamp()), status_code=error.status, media_type=JSON)


async def read_json(request: Request, *, allow_list: bool = False) -> Any:
    """The JSON body (an object, or a list when ``allow_list``); BDC_1122 when it is not."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise SimError("BDC_1122") from None
    if isinstance(body, dict) or (allow_list and isinstance(body, list)):
        return body
    raise SimError("BDC_1122", "The request body must be a JSON object.")


async def apply_faults(state: SimState) -> None:
    """Injected latency, then maybe a hanging request or a 5xx."""
    faults = state.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if faults.roll_timeout():
        await asyncio.sleep(faults.timeout_seconds)
        raise SimError("BDC_1001", "Gateway timeout.", status=504)
    if faults.roll_error():
        raise SimError("BDC_1001")


class Call:
    """An authenticated AP/AR call: the session, its organization and the request."""

    __slots__ = ("dev_key", "org", "request", "session", "state")

    def __init__(self, state: SimState, request: Request, session: Session, dev_key: str) -> None:
        self.state = state
        self.request = request
        self.session = session
        self.dev_key = dev_key
        org = state.world.organization(session.org_id)
        if org is None:  # sessions are only opened for organizations of the world
            raise SimError("BDC_1109")
        self.org: SimOrganization = org

    def require_trust(self) -> None:
        """BDC_1361 unless the session is MFA-trusted (when the world enforces MFA)."""
        if self.state.config.mfa_enforced and not self.session.trusted:
            raise SimError("BDC_1361")


Handler = Callable[[Call], Awaitable[Response]]


async def run_authenticated(state: SimState, request: Request, handler: Handler) -> Response:
    """Check devKey and sessionId, count the hourly budget, hold an in-flight slot, run ``handler``."""
    now = state.now()
    headers = request.headers
    dev_key = headers.get("devkey")
    if not dev_key or state.world.dev_key(dev_key) is None:
        raise SimError("BDC_1102")
    state.limits.count_request(dev_key, now)
    session_id = headers.get("sessionid")
    if not session_id:
        raise SimError("BDC_1109")
    session = state.sessions.use(session_id, dev_key=dev_key, now=now)
    state.limits.enter(dev_key, session.org_id)
    try:
        await apply_faults(state)
        return await handler(Call(state, request, session, dev_key))
    finally:
        state.limits.leave(dev_key, session.org_id)
