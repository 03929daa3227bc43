"""Connections: get (with a live BILL session), list, delete (logs out), patch, metadata (§3, §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import AnyHttpUrl, Field

from billbridge.errors import ConnectionStateError
from billbridge.runtime import Runtime
from billbridge.store import UNSET, Connection
from billbridge.web.deps import SECRET_KEY_GUARDS, RuntimeDep
from billbridge.web.errors import ApiError
from billbridge.web.fields import EndUserWithOrganizationIn, Strict, Tags, Text255
from billbridge.web.formatters import (
    connection_list_item,
    connection_public,
    connection_without_credentials,
    timestamp,
)
from billbridge.web.openapi import INTEGRATION_KEY, errors, is_integration_key, ok, operation, query
from billbridge.web.responses import ConnectionList, ConnectionOut, MetadataEcho, Success
from billbridge.web.validation import boolean, integer, parse_body, read_json, required, strict_query

router = APIRouter(tags=["connections"], dependencies=SECRET_KEY_GUARDS)

# Nango refreshes a session handed out by GET when it would end within 15 minutes.
MIN_VALIDITY = timedelta(minutes=15)
_GET_QUERY = {"provider_config_key", "force_refresh", "refresh_token", "refresh_github_app_jwt_token"}
_LIST_QUERY = {
    "connectionId",
    "search",
    "endUserId",
    "endUserOrganizationId",
    "integrationId",
    "limit",
    "page",
}


_KEY_PARAMETER = query(
    "provider_config_key", "The connection's integration.", required=True, schema=INTEGRATION_KEY
)
_FLAG = {"type": "string", "enum": ["true", "false"]}
_GET_PARAMETERS = [
    _KEY_PARAMETER,
    query("force_refresh", "true: log in to BILL again even if the session is still good.", schema=_FLAG),
    query("refresh_token", "Accepted for Nango's clients; no effect for BILL.", schema=_FLAG),
    query("refresh_github_app_jwt_token", "Accepted for Nango's clients; no effect.", schema=_FLAG),
]
_LIST_PARAMETERS = [
    query("connectionId", "Only this connection id."),
    query("search", "Text in the connection id, end user id, e-mail or display name."),
    query("endUserId", "Only connections of this end user."),
    query("endUserOrganizationId", "Only connections of this end user organization."),
    query(
        "integrationId",
        "Comma-separated integrations.",
        schema={"type": "string", "pattern": "^(bill|bill-sandbox)?(,(bill|bill-sandbox))*$"},
    ),
    query(
        "limit",
        "At most this many (1 to 2000).",
        schema={"type": "string", "pattern": "^(0*[1-9][0-9]{0,2}|0*1[0-9]{3}|0*2000)$"},
    ),
    query(
        "page",
        "Page number from 0 (with limit).",
        schema={"type": "string", "pattern": "^0*([0-9]{1,9}|1000000000)$"},
    ),
]


class ConnectionPatch(Strict):
    end_user: EndUserWithOrganizationIn | None = None
    tags: Tags | None = None
    webhook_url_override: AnyHttpUrl | None = None


class MetadataBody(Strict):
    connection_id: Text255 | list[Text255]
    provider_config_key: Text255 = Field(json_schema_extra=is_integration_key)
    metadata: dict[str, Any]


async def _find(services: Runtime, connection_id: str, key: str, *, missing: ApiError) -> Connection:
    if key not in services.integrations:
        raise ApiError(
            400,
            "unknown_provider_config",
            f"No integration is configured under the key {key!r}; use 'bill' or 'bill-sandbox'.",
        )
    conn = await services.connections.get(connection_id, key)
    if conn is None:
        raise missing
    return conn


def _unknown(connection_id: str) -> ApiError:
    return ApiError(
        400, "unknown_connection", f"No connection {connection_id!r} exists for this integration."
    )


@router.get(
    "/connections",
    response_model=None,
    responses={
        **ok(ConnectionList, "Matching connections, newest first, without credentials."),
        **errors(400, 401, 415),
    },
    openapi_extra=operation(parameters=_LIST_PARAMETERS),
)
@router.get("/connections/", include_in_schema=False)
async def list_connections(request: Request, services: RuntimeDep) -> dict[str, Any]:
    """Connections matching Nango's filters, newest first, without credentials."""
    q = strict_query(request, _LIST_QUERY, prefixes=("tags[",))
    limit = integer(q, "limit", low=1, high=2000)
    page = integer(q, "page", low=0, high=10**9) or 0
    tags = {
        key[5:-1].lower(): value for key, value in q.items() if key.startswith("tags[") and key.endswith("]")
    }
    integration_ids = [k for k in q.get("integrationId", "").split(",") if k] or None
    found = await services.connections.list_summaries(
        connection_id=q.get("connectionId") or None,
        integration_ids=integration_ids,
        end_user_id=q.get("endUserId") or None,
        end_user_organization_id=q.get("endUserOrganizationId") or None,
        search=q.get("search") or None,
        tags=tags or None,
        limit=limit,
        offset=page * (limit or 10000),
    )
    return {"connections": [connection_list_item(conn) for conn in found]}


@router.post(
    "/connections/metadata",
    status_code=201,
    response_model=None,
    responses={**ok(MetadataEcho, "The body, echoed.", 201), **errors(400, 401, 404, 413, 415)},
    openapi_extra=operation(body=MetadataBody, body_required=True),
)
async def set_metadata(request: Request, services: RuntimeDep) -> dict[str, Any]:
    """Replace the metadata of one or more connections; echoes the body."""
    return await _metadata(request, services, merge=False)


@router.patch(
    "/connections/metadata",
    response_model=None,
    responses={**ok(MetadataEcho, "The body, echoed."), **errors(400, 401, 404, 413, 415)},
    openapi_extra=operation(body=MetadataBody, body_required=True),
)
async def update_metadata(request: Request, services: RuntimeDep) -> dict[str, Any]:
    """Merge into the metadata of one or more connections; echoes the body."""
    return await _metadata(request, services, merge=True)


async def _metadata(request: Request, services: Runtime, *, merge: bool) -> dict[str, Any]:
    strict_query(request)
    raw = await read_json(request, empty={})
    body = parse_body(MetadataBody, raw)
    ids = body.connection_id if isinstance(body.connection_id, list) else [body.connection_id]
    missing = ApiError(404, "unknown_connection", "")
    found = []
    for connection_id in ids:
        missing.message = f"No connection {connection_id!r} exists for this integration."
        found.append(await _find(services, connection_id, body.provider_config_key, missing=missing))
    for conn in found:
        await services.connections.set_metadata(conn.pk, body.metadata, merge=merge)
    return dict(raw)


@router.get(
    "/connections/{connection_id}",
    response_model=None,
    responses={
        **ok(ConnectionOut, "The connection, with a BILL session usable for 15 more minutes at least."),
        **errors(400, 401, 403, 404, 415, 424, 429, 502, 503, 504),
    },
    openapi_extra=operation(parameters=_GET_PARAMETERS),
)
async def get_connection(connection_id: str, request: Request, services: RuntimeDep) -> dict[str, Any]:
    """The connection with a session usable for at least 15 more minutes (a new one if forced)."""
    q = strict_query(request, _GET_QUERY)
    key = required(q, "provider_config_key")
    force = boolean(q, "force_refresh")
    boolean(q, "refresh_token")
    boolean(q, "refresh_github_app_jwt_token")
    missing = ApiError(404, "not_found", "Failed to find connection")
    conn = await _find(services, connection_id, key, missing=missing)
    try:
        if force:
            live = await services.keeper.refresh(conn, force=True)
        else:
            live = await services.keeper.live_session(conn, min_validity=MIN_VALIDITY, mark_used=False)
    except ConnectionStateError as exc:
        raise ApiError(
            424, exc.code, exc.message, payload={"connection": connection_without_credentials(conn)}
        ) from None
    if live.generation != conn.session.generation:
        conn = await services.connections.get_by_pk(conn.pk) or conn
    now = datetime.now(UTC)
    await services.connections.touch_fetched(conn.pk, now)
    body = connection_public(conn, live=live)
    body["last_fetched_at"] = timestamp(now)
    return body


@router.delete(
    "/connections/{connection_id}",
    response_model=None,
    responses={
        **ok(Success, "Deleted (its BILL session is ended in the background)."),
        **errors(400, 401, 415),
    },
    openapi_extra=operation(parameters=[_KEY_PARAMETER]),
)
async def delete_connection(connection_id: str, request: Request, services: RuntimeDep) -> dict[str, Any]:
    """Delete the connection and end its BILL session."""
    q = strict_query(request, {"provider_config_key"})
    key = required(q, "provider_config_key")
    conn = await _find(services, connection_id, key, missing=_unknown(connection_id))
    return {"success": await services.accounts.delete(conn)}


@router.patch(
    "/connections/{connection_id}",
    response_model=None,
    responses={**ok(Success, "Changed."), **errors(400, 401, 413, 415)},
    openapi_extra=operation(body=ConnectionPatch, parameters=[_KEY_PARAMETER]),
)
async def patch_connection(connection_id: str, request: Request, services: RuntimeDep) -> dict[str, Any]:
    """Change the end user, tags or webhook override of a connection."""
    q = strict_query(request, {"provider_config_key"})
    key = required(q, "provider_config_key")
    body = parse_body(ConnectionPatch, await read_json(request, empty={}))
    conn = await _find(services, connection_id, key, missing=_unknown(connection_id))
    given = body.model_fields_set
    end_user = body.end_user.model_dump(exclude_none=True) if body.end_user else None
    override = str(body.webhook_url_override) if body.webhook_url_override else None
    await services.connections.patch(
        conn.pk,
        end_user=end_user if "end_user" in given else UNSET,
        tags={k.lower(): v for k, v in (body.tags or {}).items()} if "tags" in given else UNSET,
        webhook_url_override=override if "webhook_url_override" in given else UNSET,
    )
    return {"success": True}
