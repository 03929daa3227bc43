"""What the Connect UI page needs to know about a connect session, as plain JSON-ready data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billbridge.connections import Integration
from billbridge.store import ConnectionRepository, ConnectSession


def allowed_integrations(
    session: ConnectSession, integrations: Mapping[str, Integration]
) -> list[Integration]:
    """The integrations this session may link, production first (the usual choice)."""
    if session.reconnect is not None:
        keys = [session.reconnect[1]]
    elif session.allowed_integrations:
        keys = list(session.allowed_integrations)
    else:
        keys = list(integrations)
    found = [integrations[key] for key in keys if key in integrations]
    return sorted(found, key=lambda i: (i.environment != "production", keys.index(i.unique_key)))


def mfa_required(session: ConnectSession, *, setting: bool) -> bool:
    """An MFA-trusted session is asked for by the deployment's setting or by the connect session."""
    return setting or session.mfa_required


async def page_context(
    session: ConnectSession,
    *,
    integrations: Mapping[str, Integration],
    connections: ConnectionRepository,
    mfa_setting: bool,
) -> dict[str, Any]:
    """The page's view of a connect session.

    Args:
        session: a valid (unexpired) connect session.
        integrations: the configured integrations by key.
        connections: to pre-fill a reconnect from the connection it repairs.
        mfa_setting: ``Settings.connect_mfa_required``.

    Returns:
        ``{integrations:[{key, environment, displayName}], reconnect, mfaRequired, expiresAt}``;
        ``reconnect`` carries the username and organization ID, never a secret.
    """
    reconnect: dict[str, Any] | None = None
    if session.reconnect is not None:
        connection_id, key = session.reconnect
        existing = await connections.get(connection_id, key)
        reconnect = {
            "connectionId": connection_id,
            "providerConfigKey": key,
            "username": existing.credentials.username if existing else "",
            "organizationId": existing.credentials.organization_id if existing else "",
        }
    return {
        "integrations": [
            {"key": i.unique_key, "environment": i.environment, "displayName": i.display_name}
            for i in allowed_integrations(session, integrations)
        ],
        "reconnect": reconnect,
        "mfaRequired": mfa_required(session, setting=mfa_setting),
        "expiresAt": session.expires_at.isoformat().replace("+00:00", "Z"),
    }


def expired_context() -> dict[str, Any]:
    """The context of a token that is unknown or past its 30 minutes."""
    return {
        "error": "unknown_connect_session_token",
        "message": "This link has expired. Links work for 30 minutes: go back to the app and start "
        "linking again to get a new one.",
    }
