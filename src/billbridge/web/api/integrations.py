"""The built-in integrations ``bill`` and ``bill-sandbox`` (nango-compat §3)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from billbridge.web.deps import SECRET_KEY_GUARDS, CallerDep, RuntimeDep, require_key_or_connect_token
from billbridge.web.errors import ApiError, issue
from billbridge.web.formatters import integration_public
from billbridge.web.openapi import CONNECT_TOKEN, SECRET_KEY, errors, ok, operation, query
from billbridge.web.responses import IntegrationList, IntegrationOne
from billbridge.web.validation import json_gate, strict_query

router = APIRouter(tags=["integrations"])
list_router = APIRouter(
    tags=["integrations"], dependencies=[Depends(require_key_or_connect_token), Depends(json_gate)]
)
key_router = APIRouter(tags=["integrations"], dependencies=SECRET_KEY_GUARDS)

_INCLUDES = {"webhook", "credentials"}


@list_router.get(
    "/integrations",
    response_model=None,
    responses={**ok(IntegrationList, "The integrations the caller may use."), **errors(400, 401, 415)},
    openapi_extra={"security": [{SECRET_KEY: []}, {CONNECT_TOKEN: []}]},
)
@list_router.get("/integrations/", include_in_schema=False)
async def list_integrations(request: Request, services: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    """Every integration; a connect token sees only those its session allows."""
    strict_query(request)
    allowed = caller.connect.session.allowed_integrations if caller.connect is not None else None
    return {
        "data": [
            integration_public(integration, created_at=services.started_at)
            for key, integration in services.integrations.items()
            if allowed is None or key in allowed
        ]
    }


@key_router.get(
    "/integrations/{unique_key}",
    response_model=None,
    responses={**ok(IntegrationOne, "The integration."), **errors(400, 401, 404, 415)},
    openapi_extra=operation(
        parameters=[
            query(
                "include",
                "webhook, credentials, or both comma-separated: adds those fields.",
                schema={"type": "string", "pattern": "^((webhook|credentials)(,(webhook|credentials))*)?$"},
            )
        ]
    ),
)
async def get_integration(unique_key: str, request: Request, services: RuntimeDep) -> dict[str, Any]:
    """One integration; ``include=webhook`` or ``include=credentials`` adds those fields."""
    q = strict_query(request, {"include"})
    include = {part for part in q.get("include", "").split(",") if part}
    unknown = include - _INCLUDES
    if unknown:
        message = "include may be webhook or credentials."
        raise ApiError(400, "invalid_query_params", message, errors=[issue(["include"], message)])
    integration = services.integrations.get(unique_key)
    if integration is None:
        raise ApiError(404, "not_found", f"No integration {unique_key!r}; use 'bill' or 'bill-sandbox'.")
    return {
        "data": integration_public(
            integration,
            created_at=services.started_at,
            webhook="webhook" in include,
            credentials="credentials" in include,
        )
    }


router.include_router(list_router)
router.include_router(key_router)
