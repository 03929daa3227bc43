"""``POST /auth/bill/{providerConfigKey}``: link a BILL account with a connect session token (§6.2)."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from billbridge.connections import (
    LinkOutcome,
    get_integration,
    parse_link_form,
    target_from_session,
)
from billbridge.errors import BillbridgeError, NotFoundError
from billbridge.runtime import Runtime
from billbridge.web.deps import ConnectContext, RuntimeDep, lookup_connect_token
from billbridge.web.errors import ApiError, issue
from billbridge.web.keys import unauthorized, unknown_connect_token
from billbridge.web.openapi import CONNECT_TOKEN_QUERY, errors, ok, operation
from billbridge.web.responses import Linked
from billbridge.web.validation import json_gate, read_json

log = structlog.get_logger(__name__)

router = APIRouter(tags=["auth"])

_KEY = re.compile(r"^[A-Za-z0-9~:.@ _-]{1,255}$")
# Failed logins a connect session may cause: enough for typos, too few to guess passwords.
MAX_LINK_ATTEMPTS = 10


async def _authenticate(request: Request, services: Runtime) -> ConnectContext:
    token = request.query_params.get("connect_session_token")
    if token:
        return await lookup_connect_token(services, token)
    if request.query_params.get("public_key"):
        raise unauthorized(
            "deprecated_authentication",
            "Public keys are not supported; pass a connect session token as ?connect_session_token=.",
        )
    raise unauthorized(
        "missing_public_key",
        "Pass the connect session token from POST /connect/sessions as ?connect_session_token=.",
    )


class LinkBody(BaseModel):
    """The four values the user typed (``@nangohq/frontend``'s ``auth()`` credentials)."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(
        max_length=255, pattern=r"^\s*[^@\s]+@[^@\s]+\.[^@\s.]+\s*$", description="The BILL sign-in e-mail."
    )
    password: str = Field(min_length=1, max_length=255)
    organization_id: str = Field(pattern="^008[A-Za-z0-9]{17}$")
    dev_key: str = Field(min_length=1, max_length=255, description="The BILL developer key.")
    api_token: str | None = Field(default=None, description="Optional Spend & Expense API token.")
    type: Literal["BILL"] | None = Field(default=None, description="Ignored (Connect UI sends it).")


@router.post(
    "/auth/bill/{provider_config_key}",
    response_model=None,
    responses={
        **ok(Linked, "Linked: BILL accepted the credentials and the connection is stored."),
        **errors(400, 401, 403, 404, 413, 415, 429, 502, 503, 504),
    },
    openapi_extra=operation(security=CONNECT_TOKEN_QUERY, body=LinkBody, body_required=True),
)
async def link_bill(provider_config_key: str, request: Request, services: RuntimeDep) -> dict[str, Any]:
    """Check the form, log in to BILL, store the connection; answer at once either way."""
    ctx = await _authenticate(request, services)
    await json_gate(request)
    form = parse_link_form(await read_json(request, empty={}))
    if "connection_id" in request.query_params:
        message = "connection_id is forbidden when using a connect session token."
        raise ApiError(400, "invalid_query_params", message, errors=[issue(["connection_id"], message)])
    if not _KEY.match(provider_config_key):
        message = "The integration key may hold letters, digits and ~:.@ _- only (at most 255)."
        raise ApiError(400, "invalid_uri_params", message, errors=[issue(["providerConfigKey"], message)])
    try:
        integration = get_integration(services.integrations, provider_config_key)
    except BillbridgeError as exc:
        raise ApiError(404, exc.code, exc.message) from None
    session = ctx.session
    target = replace(target_from_session(session, provider_config_key), connection_id=str(uuid.uuid4()))
    try:
        attempts = await services.connect_sessions.register_attempt(ctx.token)
    except NotFoundError:  # it expired or was ended a moment ago
        raise unknown_connect_token() from None
    if attempts > MAX_LINK_ATTEMPTS:
        raise ApiError(
            429,
            "too_many_attempts",
            "Too many sign-in attempts with this link. Ask the application for a new link.",
        )
    outcome = await services.accounts.link(
        form, integration=integration, target=target, connect_session=session
    )
    await _remember_link(services, ctx, outcome)
    return {"connectionId": outcome.connection.connection_id, "providerConfigKey": provider_config_key}


async def _remember_link(services: Runtime, ctx: ConnectContext, outcome: LinkOutcome) -> None:
    """Note on the connect session what it linked: only that may then run the MFA step."""
    try:
        await services.connect_sessions.record_link(ctx.session.pk, outcome.connection.pk)
    except NotFoundError:
        # The session was ended, or the connection deleted, while BILL was asked: the link itself
        # stands, and an ended session has no MFA step to allow.
        log.info("connect_link_not_recorded", connection_id=outcome.connection.connection_id)
