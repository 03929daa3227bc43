"""One page of a BILL list for a connection, through the same client, keeper and limits as the proxy.

Connect lists use the connection's session from the session keeper (renewed with one login when it
expires, a ``BDC_1109`` answered by one re-login and one replay); Spend & Expense lists use the
connection's API token. Every request takes one of the organization's in-flight slots and one unit
of the developer key's hourly budget inside the client.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from billbridge.bill import ApiTokenAuth
from billbridge.bill.pagination import Page, parse_page
from billbridge.connections import BillClients, SessionKeeper
from billbridge.errors import BillbridgeError, CredentialsRejectedError, NotFoundError
from billbridge.store import Connection, ConnectionRepository
from billbridge.sync.definitions import SyncDefinition


class SyncStopped(BillbridgeError):
    """The connection cannot sync until someone acts (deleted, or its credentials are rejected)."""

    default_code = "sync_stopped"

    def __reduce__(self) -> tuple[Any, ...]:
        # DBOS stores a step's exception and raises it again on replay: keep the code.
        return (_rebuild, (self.message, self.code))


def _rebuild(message: str, code: str) -> SyncStopped:
    return SyncStopped(message, code=code)


class PageFetcher:
    """Fetches list pages for connections (the only way a sync reaches BILL)."""

    def __init__(
        self,
        *,
        connections: ConnectionRepository,
        keeper: SessionKeeper,
        clients: BillClients,
        reuse_for: float = 5.0,
    ) -> None:
        self._connections = connections
        self._keeper = keeper
        self._clients = clients
        # Every page needs the connection; reading and decrypting it once per page would cost more
        # than storing the page. A change (re-link, rejected credentials) is seen within seconds,
        # and the keeper refuses a rejected connection at once anyway.
        self._reuse_for = reuse_for
        self._recent: dict[int, tuple[float, Connection]] = {}

    async def connection(self, connection_pk: int) -> Connection:
        """The connection, refusing one that is gone or whose credentials BILL rejected.

        Raises:
            SyncStopped: ``unknown_connection`` or ``invalid_credentials``.
        """
        now = time.monotonic()
        recent = self._recent.get(connection_pk)
        if recent is not None and now - recent[0] < self._reuse_for:
            conn: Connection | None = recent[1]
        else:
            conn = await self._connections.get_by_pk(connection_pk)
            if conn is not None:
                self._recent[connection_pk] = (now, conn)
            else:
                self._recent.pop(connection_pk, None)
        if conn is None:
            raise SyncStopped(f"connection {connection_pk} no longer exists", code="unknown_connection")
        if conn.status == "invalid_credentials":
            raise SyncStopped(_rejected(conn), code="invalid_credentials")
        return conn

    async def fetch(
        self, conn: Connection, definition: SyncDefinition, params: list[tuple[str, str]]
    ) -> Page:
        """Fetch one page of ``definition``'s list with ``params``.

        Raises:
            SyncStopped: BILL rejected the connection's credentials, or an S&E sync has no token.
            RateLimitError: a budget is spent until ``reset_at``.
            BillAPIError, BillTransportError: what the client could not retry away.
        """
        client = self._clients.for_integration(conn.provider_config_key)
        request = f"GET {definition.path}"
        if definition.needs_api_token:
            token = conn.credentials.api_token
            if token is None:
                raise SyncStopped(
                    f"sync {definition.name!r} needs the connection's Spend & Expense API token; "
                    "re-link the connection with one",
                    code="missing_api_token",
                )
            answer = await client.request(
                "GET",
                definition.path,
                auth=ApiTokenAuth(token, conn.credentials.organization_id),
                params=params,
                priority="sync",
            )
            return parse_page(answer, request=request)

        try:
            # The keeper's auth flow: one re-login and one replay on BDC_1109; the "sync" priority
            # leaves free slots and the last tenth of the hourly budget to live callers.
            auth = self._keeper.auth(conn)
            answer = await client.request("GET", definition.path, auth=auth, params=params, priority="sync")
        except CredentialsRejectedError as exc:
            raise SyncStopped(str(exc), code="invalid_credentials") from exc
        except NotFoundError as exc:
            raise SyncStopped(str(exc), code="unknown_connection") from exc
        return parse_page(answer, request=request)


def _rejected(conn: Connection) -> str:
    return (
        f"BILL rejected the credentials of connection {conn.connection_id!r}; its syncs are stopped "
        "until it is re-linked"
    )


def seconds_until(moment: datetime, now: datetime) -> float:
    """Seconds from ``now`` to ``moment`` (at least one, so a pause never spins)."""
    return max(1.0, (moment - now).total_seconds())
