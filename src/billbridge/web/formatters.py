"""Nango's public shapes for connections and integrations (nango-compat §3, §4)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from billbridge.connections import Integration, LiveSession
from billbridge.store import Connection, ConnectionSummary

NANGO_LOGO = "https://app.nango.dev/images/template-logos/bill.svg"


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC ending in ``+00:00`` (Nango's format), milliseconds precision."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def zulu(value: datetime) -> str:
    """ISO 8601 ending in ``Z`` (JavaScript's ``toISOString``), used for connect sessions."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def end_user_public(end_user: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{id, display_name, email, tags, organization}`` with every key present."""
    if not end_user:
        return None
    org = end_user.get("organization")
    return {
        "id": end_user.get("id"),
        "display_name": end_user.get("display_name"),
        "email": end_user.get("email"),
        "tags": end_user.get("tags") or {},
        "organization": (
            {"id": org.get("id"), "display_name": org.get("display_name")} if isinstance(org, dict) else None
        ),
    }


def _errors(conn: Connection | ConnectionSummary) -> list[dict[str, Any]]:
    if conn.status == "invalid_credentials":
        return [{"type": "auth", "log_id": ""}]
    return []


def _summary(conn: Connection | ConnectionSummary) -> dict[str, Any]:
    """The fields a connection shows both alone and in a list, in Nango's order."""
    return {
        "id": conn.pk,
        "connection_id": conn.connection_id,
        "provider_config_key": conn.provider_config_key,
        "provider": "bill",
        "errors": _errors(conn),
        "end_user": end_user_public(conn.end_user),
        "tags": dict(conn.tags),
        "metadata": dict(conn.metadata),
    }


def connection_public(conn: Connection, *, live: LiveSession | None) -> dict[str, Any]:
    """The object of ``GET /connections/{id}``; credentials never include the password."""
    creds = conn.credentials
    raw = dict(conn.session.raw)
    session_id = live.auth.session_id.get_secret_value() if live is not None else None
    if session_id is not None:
        raw["sessionId"] = session_id
    raw.setdefault("organizationId", creds.organization_id)
    if conn.session.user_id:
        raw.setdefault("userId", conn.session.user_id)
    return {
        **_summary(conn),
        "connection_config": dict(conn.connection_config),
        "webhook_url_override": conn.webhook_url_override,
        "created_at": timestamp(conn.created_at),
        "updated_at": timestamp(conn.updated_at),
        "last_fetched_at": timestamp(conn.last_fetched_at),
        "credentials": {
            "type": "BILL",
            "username": creds.username,
            "organization_id": creds.organization_id,
            "dev_key": creds.dev_key.get_secret_value(),
            "session_id": session_id,
            "user_id": conn.session.user_id,
            "expires_at": timestamp(live.expires_at) if live is not None else None,
            "raw": raw,
        },
    }


def connection_without_credentials(conn: Connection) -> dict[str, Any]:
    """The connection object minus credentials (error payloads)."""
    body = connection_public(conn, live=None)
    body.pop("credentials")
    return body


def connection_list_item(conn: ConnectionSummary) -> dict[str, Any]:
    """An item of ``GET /connections``: ``created``, no credentials, no config."""
    return {**_summary(conn), "created": timestamp(conn.created_at)}


def integration_public(
    integration: Integration,
    *,
    created_at: datetime,
    webhook: bool = False,
    credentials: bool = False,
) -> dict[str, Any]:
    """An integration as Nango formats it; ``webhook``/``credentials`` add the included fields."""
    body: dict[str, Any] = {
        "unique_key": integration.unique_key,
        "provider": integration.provider,
        "display_name": integration.display_name,
        "logo": NANGO_LOGO,
        "forward_webhooks": False,
        "created_at": timestamp(created_at),
        "updated_at": timestamp(created_at),
    }
    if webhook:
        body["webhook_url"] = None
    if credentials:
        body["credentials"] = None
    return body
