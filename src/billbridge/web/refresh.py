"""Reporting a failed BILL session refresh: one ``auth`` webhook per failed session."""

from __future__ import annotations

from billbridge.errors import BillbridgeError, CredentialsRejectedError
from billbridge.store import Connection
from billbridge.web.services import Services


def report_refresh_failure(services: Services, conn: Connection, exc: BillbridgeError) -> None:
    """Send the ``refresh`` failure webhook when BILL has just refused a connection's credentials.

    Only the refusal that turns a working connection into ``invalid_credentials`` is reported, once
    per session generation; later calls on the marked connection fail without a new login.
    """
    if not isinstance(exc, CredentialsRejectedError) or conn.status != "ok":
        return
    marker = (conn.pk, conn.session.generation)
    if marker in services.refresh_failures_sent:
        return
    services.refresh_failures_sent.add(marker)
    services.webhooks.auth_for(conn, operation="refresh", success=False, error=(exc.code, exc.message))
