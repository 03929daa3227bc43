"""Proxy: forward one caller request to BILL with the connection's auth, limits and safe retries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from billbridge.bill import ApiTokenAuth, Auth, BillClient, RawResponse, SessionAuth
from billbridge.connections.clients import BillClients
from billbridge.connections.clock import utc_now
from billbridge.connections.concurrency import InFlightLeases
from billbridge.connections.paths import confine_path, is_spend_path
from billbridge.connections.proxy_headers import outgoing_headers, returned_headers
from billbridge.connections.sessions import SessionKeeper
from billbridge.errors import RateLimitError, SessionExpiredError, ValidationError
from billbridge.store import Connection

MAX_RETRIES = 10


class Proxy:
    """Forwards requests for connections to BILL's v3 API (Nango's ``/proxy`` semantics).

    Unlike Nango, billbridge injects the auth itself: ``devKey`` + ``sessionId`` from the
    session keeper, or ``apiToken`` for ``/v3/spend/...``. Auth headers the caller sends
    (``devKey``, ``sessionId``, ``apiToken``, ``Authorization``) are dropped, not forwarded: the
    connection's own credentials are the only ones billbridge vouches for, and a caller's copy of
    a session id is at best the same value and at worst a stale one.
    """

    def __init__(
        self, keeper: SessionKeeper, clients: BillClients, *, leases: InFlightLeases | None = None
    ) -> None:
        """Build the proxy.

        Args:
            keeper: Hands out live sessions.
            clients: The BILL clients (their shared ``Limits`` hold 3 in flight per organization
                within this process).
            leases: With several processes on one PostgreSQL, hold the limit across them too
                (``InFlightLeases.for_database(db)``); None keeps it per process.
        """
        self._keeper = keeper
        self._clients = clients
        self._leases = leases

    async def aclose(self) -> None:
        """Release the cross-process leases' connections."""
        if self._leases is not None:
            await self._leases.aclose()

    async def forward(
        self,
        conn: Connection,
        *,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        retries: int = 0,
        base_url_override: str | None = None,
    ) -> RawResponse:
        """Send one request to BILL for ``conn`` and return BILL's answer as it came.

        Args:
            conn: The connection (from :meth:`SessionKeeper.lookup`, which caches it).
            method: HTTP method.
            path: The path after ``/proxy`` as received (percent-encoding kept), under ``/v3/``.
            query: Query pairs, passed through in order.
            headers: Caller headers to forward (``Nango-Proxy-`` prefix already removed).
            body: The request body, passed through (empty means none).
            retries: Retries allowed where safe: reads, and any request BILL certainly did not
                process (``BDC_1322``, connection refused). Capped at 10.
            base_url_override: Nango's ``Base-Url-Override``: accepted only if it names the gateway
                (or its ``/connect`` base) of a configured integration of the same environment.

        Returns:
            BILL's status, headers (hop-by-hop and encoding headers removed) and body. BILL's error
            answers are returned too, except rate limits (below); ``BDC_1109`` is answered with one
            re-login and one replay, ``BDC_1361`` (untrusted session) never with a re-login.

        Raises:
            ValidationError: A path outside ``/v3/``, a refused override, a bad ``retries``, or a
                ``/v3/spend`` call on a connection without an API token.
            RateLimitError: BILL's hourly budget (``BDC_1144``) or ours is spent, or the Spend &
                Expense per-minute one (carries ``reset_at``; answer 429 with ``Retry-After``).
            CredentialsRejectedError, LoginCooldownError: No session can be had.
            BillTransportError: BILL could not be reached.
        """
        target = confine_path(path)
        if not 0 <= retries <= MAX_RETRIES:
            raise ValidationError(
                f"Retries must be an integer from 0 to {MAX_RETRIES}.",
                field="retries",
                code="invalid_headers",
            )
        client = self._client(conn, base_url_override)
        request = _Request(method.upper(), target, query, outgoing_headers(headers), body or None, retries)
        if is_spend_path(target):
            return _finish(client, await request.send(client, _api_token_auth(conn)), spend=True)
        live = await self._keeper.live_session(conn)
        raw = await self._send(request, client, live.auth)
        if raw.status >= 400 and isinstance(client.parse_error(raw), SessionExpiredError):
            # BDC_1109: BILL did nothing with the request, so replaying it once is safe.
            live = await self._keeper.invalidate(conn, live.generation)
            raw = await self._send(request, client, live.auth)
        return _finish(client, raw)

    async def _send(self, request: _Request, client: BillClient, auth: SessionAuth) -> RawResponse:
        if self._leases is None:
            return await request.send(client, auth)
        async with self._leases.hold(*auth.limit_key):
            return await request.send(client, auth)

    def _client(self, conn: Connection, base_url_override: str | None) -> BillClient:
        if not base_url_override:
            return self._clients.for_integration(conn.provider_config_key)
        wanted = base_url_override.strip().rstrip("/").lower()
        for key, integration in self._clients.integrations.items():
            if integration.environment != conn.environment:
                continue
            if wanted in (integration.gateway.lower(), integration.api_base.lower()):
                return self._clients.for_integration(key)
        raise ValidationError(
            "Base-Url-Override may only name a configured BILL gateway of the connection's "
            f"environment ({conn.environment}); leave it empty to use the integration's own.",
            field="Base-Url-Override",
            code="invalid_headers",
        )


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    params: Sequence[tuple[str, str]] | None
    headers: dict[str, str] | None
    content: bytes | None
    retries: int

    async def send(self, client: BillClient, auth: Auth) -> RawResponse:
        return await client.send(
            self.method,
            self.path,
            auth=auth,
            params=self.params,
            headers=self.headers,
            content=self.content,
            retries=self.retries,
        )


def _api_token_auth(conn: Connection) -> ApiTokenAuth:
    token = conn.credentials.api_token
    if token is None:
        raise ValidationError(
            f"Connection {conn.connection_id!r} has no Spend & Expense API token, which /v3/spend/... "
            "calls need. Re-link the connection with the optional api_token field.",
            field="api_token",
            code="missing_api_token",
        )
    return ApiTokenAuth(api_token=token, organization_id=conn.credentials.organization_id)


def _finish(client: BillClient, raw: RawResponse, *, spend: bool = False) -> RawResponse:
    if raw.status >= 400:
        error = client.parse_error(raw)
        if isinstance(error, RateLimitError):
            if spend:
                # Spend & Expense counts per minute (bill-api.md §9), not per hour.
                error.reset_at = _next_minute(utc_now())
            raise error
    return RawResponse(raw.status, returned_headers(raw.headers), raw.body)


def _next_minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1)
