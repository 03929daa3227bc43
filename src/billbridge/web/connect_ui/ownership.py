"""Which connection a connect session may act on after linking: only one it has just linked."""

from __future__ import annotations

from typing import Any

from billbridge.connections import session_tags
from billbridge.store import Connection, ConnectSession
from billbridge.web.connect_ui.context import allowed_integrations
from billbridge.web.errors import ApiError
from billbridge.web.services import Services


def _end_user_id(end_user: dict[str, Any] | None) -> object:
    return (end_user or {}).get("id")


def _not_yours() -> ApiError:
    return ApiError(
        403,
        "connection_not_linked_by_session",
        "This connection was not linked with this connect session.",
    )


def is_linked_by(conn: Connection, session: ConnectSession) -> bool:
    """True when ``session`` can have linked ``conn``: same end user (or tags), linked since it began.

    Linking stamps the session's end user and tags on the connection and rewrites it, so a
    connection untouched since the session was created, or another end user's, is refused.
    """
    if conn.updated_at < session.created_at:
        return False
    if session.reconnect is not None and session.reconnect != (conn.connection_id, conn.provider_config_key):
        return False
    if session.end_user:
        return _end_user_id(conn.end_user) == _end_user_id(session.end_user)
    expected = session_tags(session.end_user, session.organization, session.tags)
    return all(conn.tags.get(key) == value for key, value in expected.items())


async def linked_connection(
    services: Services, session: ConnectSession, connection_id: str, provider_config_key: str
) -> Connection:
    """The connection ``session`` has just linked.

    Raises:
        ApiError: 403 when the integration is not the session's or the connection is not one it
            linked; 404 ``unknown_connection`` when there is no such connection.
    """
    keys = {i.unique_key for i in allowed_integrations(session, services.integrations)}
    if provider_config_key not in keys:
        raise _not_yours()
    conn = await services.connections.get(connection_id, provider_config_key)
    if conn is None:
        raise ApiError(404, "unknown_connection", "No such connection; link the account first.")
    if not is_linked_by(conn, session):
        raise _not_yours()
    return conn
