"""Connect sessions: created with the secret key, then read and ended with their own token (§5)."""

from __future__ import annotations

from typing import Any, Literal

import pydantic
from fastapi import APIRouter, Request, Response
from pydantic import AnyHttpUrl, ConfigDict, Field

from billbridge.connections import session_tags
from billbridge.runtime import Runtime
from billbridge.store import ConnectSession
from billbridge.web.deps import (
    CONNECT_TOKEN_GUARDS,
    SECRET_KEY_GUARDS,
    ConnectTokenDep,
    RuntimeDep,
)
from billbridge.web.errors import ApiError, issue
from billbridge.web.fields import EndUserIn, OrganizationIn, Strict, Tags, Text255
from billbridge.web.formatters import end_user_public, zulu
from billbridge.web.openapi import (
    CONNECT_TOKEN,
    errors,
    is_integration_key,
    keyed_by_integration,
    lists_integration_keys,
    ok,
    operation,
)
from billbridge.web.responses import ConnectSessionCreated, ConnectSessionOut
from billbridge.web.validation import parse_body, read_json, strict_query


class IntegrationDefaultsIn(Strict):
    user_scopes: str | None = None
    authorization_params: dict[str, str] | None = None
    connection_config: dict[str, Any] | None = None


class OverrideIn(Strict):
    docs_connect: AnyHttpUrl | None = None


class _SessionFields(Strict):
    end_user: EndUserIn | None = None
    organization: OrganizationIn | None = None
    integrations_config_defaults: dict[str, IntegrationDefaultsIn] | None = Field(
        default=None, json_schema_extra=keyed_by_integration
    )
    overrides: dict[str, OverrideIn] | None = Field(default=None, json_schema_extra=keyed_by_integration)
    webhook_url_override: AnyHttpUrl | Literal[""] | None = None
    tags: Tags | None = None
    # billbridge's extension: ask for an MFA-trusted session (defaults to the server setting).
    mfa_required: bool | None = None


class SessionCreate(_SessionFields):
    # Documented: an end user is required, unless top-level tags are given.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["end_user"], "properties": {"end_user": {"type": "object"}}},
                {"required": ["tags"], "properties": {"tags": {"type": "object", "minProperties": 1}}},
            ]
        }
    )

    allowed_integrations: list[Text255] | None = Field(default=None, json_schema_extra=lists_integration_keys)


class ReconnectCreate(_SessionFields):
    connection_id: Text255
    integration_id: Text255 = Field(json_schema_extra=is_integration_key)


router = APIRouter(tags=["connect"])
secret_router = APIRouter(tags=["connect"], dependencies=SECRET_KEY_GUARDS)
token_router = APIRouter(tags=["connect"], dependencies=CONNECT_TOKEN_GUARDS)


@secret_router.post(
    "/connect/sessions",
    status_code=201,
    response_model=None,
    responses={
        **ok(ConnectSessionCreated, "The session's token (valid 30 minutes) and connect link.", 201),
        **errors(400, 401, 413, 415),
    },
    openapi_extra=operation(body=SessionCreate),
)
async def create_session(request: Request, services: RuntimeDep) -> dict[str, Any]:
    """Create a connect session for an end user (``@nangohq/node`` ``createConnectSession``)."""
    strict_query(request)
    body = parse_body(SessionCreate, await read_json(request, empty={}))
    if body.end_user is None and not body.tags:
        raise ApiError(
            400,
            "invalid_body",
            "end_user is required (or give top-level tags): send end_user {id, email?, display_name?}.",
            errors=[issue(["end_user"], "Required", "invalid_type")],
        )
    if body.allowed_integrations == []:
        # An empty list would allow nothing yet read like "no restriction": say which one is meant.
        message = (
            "allowed_integrations is empty, which would allow no integration; "
            "omit it to allow every integration, or list bill and/or bill-sandbox."
        )
        raise ApiError(
            400, "invalid_body", message, errors=[issue(["allowed_integrations"], message, "too_small")]
        )
    _check_integrations(services, body.allowed_integrations, body.integrations_config_defaults)
    return await _create(services, body, allowed=body.allowed_integrations, reconnect=None)


@secret_router.post(
    "/connect/sessions/reconnect",
    status_code=201,
    response_model=None,
    responses={
        **ok(ConnectSessionCreated, "A session that re-links the named connection.", 201),
        **errors(400, 401, 413, 415),
    },
    openapi_extra=operation(body=ReconnectCreate, body_required=True),
)
async def create_reconnect_session(request: Request, services: RuntimeDep) -> dict[str, Any]:
    """A session that re-links one existing connection (``createReconnectSession``)."""
    strict_query(request)
    body = parse_body(ReconnectCreate, await read_json(request, empty={}))
    _check_integrations(services, [body.integration_id], body.integrations_config_defaults)
    conn = await services.connections.get(body.connection_id, body.integration_id)
    if conn is None:
        raise ApiError(
            400,
            "invalid_body",
            "The connection_id and integration_id do not name an existing connection.",
            errors=[issue(["connection_id"], "No such connection for this integration.", "invalid_value")],
        )
    if body.end_user is None and conn.end_user:
        stored = {k: v for k, v in conn.end_user.items() if k in {"id", "email", "display_name", "tags"}}
        try:
            body.end_user = EndUserIn.model_validate(stored)
        except pydantic.ValidationError:
            # Stored before today's limits: the caller restates the end user instead of a 500.
            message = "The connection's stored end user is outside today's limits; send end_user."
            raise ApiError(
                400, "invalid_body", message, errors=[issue(["end_user"], message, "invalid_type")]
            ) from None
    return await _create(
        services,
        body,
        allowed=[body.integration_id],
        reconnect=(body.connection_id, body.integration_id),
    )


def _check_integrations(
    services: Runtime, allowed: list[str] | None, defaults: dict[str, IntegrationDefaultsIn] | None
) -> None:
    problems = [
        issue(["allowed_integrations", i], "Integration does not exist", "invalid_value")
        for i, key in enumerate(allowed or [])
        if key not in services.integrations
    ]
    problems += [
        issue(["integrations_config_defaults", key], "Integration does not exist", "invalid_value")
        for key in defaults or {}
        if key not in services.integrations
    ]
    if problems:
        raise ApiError(
            400, "invalid_body", "Integration does not exist: use bill or bill-sandbox.", errors=problems
        )


async def _create(
    services: Runtime,
    body: _SessionFields,
    *,
    allowed: list[str] | None,
    reconnect: tuple[str, str] | None,
) -> dict[str, Any]:
    end_user = body.end_user.model_dump(exclude_none=True) if body.end_user else None
    organization = body.organization.model_dump(exclude_none=True) if body.organization else None
    if end_user is not None and organization is not None:
        end_user["organization"] = organization
    defaults = {
        k: v.model_dump(exclude_none=True) for k, v in (body.integrations_config_defaults or {}).items()
    }
    mfa = services.settings.connect_mfa_required if body.mfa_required is None else body.mfa_required
    token, session = await services.connect_sessions.create(
        end_user=end_user,
        organization=organization,
        allowed_integrations=allowed,
        integrations_config_defaults=defaults,
        tags=session_tags(end_user, organization, body.tags),
        webhook_url_override=str(body.webhook_url_override) if body.webhook_url_override else None,
        reconnect=reconnect,
        mfa_required=mfa,
    )
    return {
        "data": {
            "token": token,
            "connect_link": f"{services.public_url}/connect?session_token={token}",
            "expires_at": zulu(session.expires_at),
        }
    }


@token_router.get(
    "/connect/session",
    response_model=None,
    responses={
        **ok(ConnectSessionOut, "What the Connect UI shows for this session."),
        **errors(400, 401, 415),
    },
    openapi_extra=operation(security=CONNECT_TOKEN),
)
async def get_session(request: Request, services: RuntimeDep, ctx: ConnectTokenDep) -> dict[str, Any]:
    """What the Connect UI needs to render (nango-compat §5), plus reconnect pre-fill."""
    strict_query(request)
    return {"data": await session_view(services, ctx.session)}


async def session_view(services: Runtime, session: ConnectSession) -> dict[str, Any]:
    """The ``data`` of ``GET /connect/session``; never a password or key."""
    end_user = end_user_public(session.end_user)
    data: dict[str, Any] = {
        "endUser": end_user,
        "connectUISettings": {
            "theme": {"light": {"primary": "#0b5cff"}, "dark": {"primary": "#6ea8ff"}},
            "defaultTheme": "system",
            "showWatermark": False,
        },
        "isReconnecting": session.reconnect is not None,
        "mfa_required": session.mfa_required,
        "expires_at": zulu(session.expires_at),
    }
    if session.allowed_integrations is not None:
        data["allowed_integrations"] = list(session.allowed_integrations)
    if session.integrations_config_defaults:
        data["integrations_config_defaults"] = session.integrations_config_defaults
    if session.reconnect is not None:
        conn = await services.connections.get(*session.reconnect)
        data["reconnect"] = {
            "connection_id": session.reconnect[0],
            "provider_config_key": session.reconnect[1],
            "username": conn.credentials.username if conn else None,
            "organization_id": conn.credentials.organization_id if conn else None,
        }
    return data


@token_router.delete(
    "/connect/session",
    status_code=204,
    responses={204: {"description": "The session is ended."}, **errors(400, 401, 415)},
    openapi_extra=operation(security=CONNECT_TOKEN),
)
async def delete_session(request: Request, services: RuntimeDep, ctx: ConnectTokenDep) -> Response:
    """End a connect session before it expires."""
    strict_query(request)
    await services.connect_sessions.delete(ctx.token)
    return Response(status_code=204)


router.include_router(secret_router)
router.include_router(token_router)
