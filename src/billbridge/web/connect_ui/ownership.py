"""Which connection a connect session may act on after linking: only one it linked itself."""

from __future__ import annotations

from billbridge.runtime import Runtime
from billbridge.store import Connection, ConnectSession
from billbridge.web.errors import ApiError


def is_linked_by(conn: Connection, session: ConnectSession) -> bool:
    """True when ``session``'s token linked ``conn`` (the linking endpoint records each link)."""
    return conn.pk in session.linked_connections


async def linked_connection(
    services: Runtime, session: ConnectSession, connection_id: str, provider_config_key: str
) -> Connection:
    """The connection ``session`` linked with this id and integration.

    Raises:
        ApiError: 403 ``connection_not_linked_by_session`` when the session linked no such
            connection; whether another connection of that id exists is not revealed.
    """
    conn = await services.connections.get(connection_id, provider_config_key)
    if conn is None or not is_linked_by(conn, session):
        raise ApiError(
            403,
            "connection_not_linked_by_session",
            "This connection was not linked with this connect session; link the account first.",
        )
    return conn
