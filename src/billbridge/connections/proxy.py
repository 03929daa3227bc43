"""Proxy: forward one caller request to BILL with the connection's auth, limits and safe retries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType

from billbridge.bill import ApiTokenAuth, Auth, BillClient, RawResponse, SessionAuth
from billbridge.bill.transport import StreamedResponse
from billbridge.connections.clients import BillClients
from billbridge.connections.clock import utc_now
from billbridge.connections.concurrency import InFlightLeases
from billbridge.connections.paths import confine_path, is_spend_path
from billbridge.connections.proxy_headers import outgoing_headers, returned_headers
from billbridge.connections.sessions import SessionKeeper
from billbridge.errors import BillAPIError, RateLimitError, SessionExpiredError, ValidationError
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
        """Send one request to BILL for ``conn`` and return BILL's answer read whole.

        Arguments, answers and errors as for :meth:`open`; for callers that want the bytes in
        memory (the HTTP route streams instead).
        """
        forwarding = self._forwarding(conn, method, path, query, headers, body, retries, base_url_override)
        async with forwarding as answer:
            return RawResponse(answer.status, answer.headers, await answer.read())

    def open(
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
    ) -> AbstractAsyncContextManager[StreamedResponse]:
        """Send one request to BILL for ``conn``; the block gets BILL's answer as it comes.

        The organization's in-flight slot (and its cross-process lease) is held until the block
        ends, so read the body inside it: ``answer.body`` if it came whole (always so for error
        answers), else ``answer.next_chunk()`` until it returns ``b""``.

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
            A context manager giving BILL's status, headers (hop-by-hop and encoding headers
            removed) and body. BILL's error answers are given too, except rate limits (below);
            ``BDC_1109`` is answered with one re-login and one replay, ``BDC_1361`` (untrusted
            session) never with a re-login.

        Raises:
            ValidationError: A path outside ``/v3/``, a refused override, a bad ``retries``, or a
                ``/v3/spend`` call on a connection without an API token.
            RateLimitError: BILL's hourly budget (``BDC_1144``) or ours is spent, or the Spend &
                Expense per-minute one (carries ``reset_at``; answer 429 with ``Retry-After``).
            CredentialsRejectedError, LoginCooldownError: No session can be had.
            BillTransportError: BILL could not be reached (or, while the body is read, broke off).
        """
        return self._forwarding(conn, method, path, query, headers, body, retries, base_url_override)

    def _forwarding(
        self,
        conn: Connection,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] | None,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        retries: int,
        base_url_override: str | None,
    ) -> _Forwarding:
        # What forward and open share: the request checked and prepared, nothing sent yet.
        target = confine_path(path)
        if not 0 <= retries <= MAX_RETRIES:
            raise ValidationError(
                f"Retries must be an integer from 0 to {MAX_RETRIES}.",
                field="retries",
                code="invalid_headers",
            )
        client = self._client(conn, base_url_override)
        request = _Request(method.upper(), target, query, outgoing_headers(headers), body or None, retries)
        spend_auth = _api_token_auth(conn) if is_spend_path(target) else None
        return _Forwarding(self, conn, client, request, spend_auth)

    def _stream(
        self, request: _Request, client: BillClient, auth: SessionAuth
    ) -> AbstractAsyncContextManager[StreamedResponse]:
        if self._leases is None:
            return request.stream(client, auth)
        return _leased(self._leases, request, client, auth)

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

    def stream(self, client: BillClient, auth: Auth) -> AbstractAsyncContextManager[StreamedResponse]:
        return client.stream(
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


@asynccontextmanager
async def _leased(
    leases: InFlightLeases, request: _Request, client: BillClient, auth: SessionAuth
) -> AsyncIterator[StreamedResponse]:
    # The lease is taken first and given back last: it covers the whole body, like the local slot.
    async with leases.hold(*auth.limit_key), request.stream(client, auth) as answer:
        yield answer


@dataclass(slots=True, eq=False)
class _Forwarding:
    """The block of one proxied request (a class rather than a generator: the proxy's hot path)."""

    proxy: Proxy
    conn: Connection
    client: BillClient
    request: _Request
    spend_auth: ApiTokenAuth | None
    # The open BILL exchange whose answer the block is reading.
    inner: AbstractAsyncContextManager[StreamedResponse] | None = None

    async def __aenter__(self) -> StreamedResponse:
        proxy, conn, request, client = self.proxy, self.conn, self.request, self.client
        if self.spend_auth is not None:
            answer, error = await self._open(request.stream(client, self.spend_auth))
            return await self._finish(answer, error, spend=True)
        live = await proxy._keeper.live_session(conn)
        answer, error = await self._open(proxy._stream(request, client, live.auth))
        if isinstance(error, SessionExpiredError):
            # BDC_1109: BILL did nothing with the request, so replaying it once is safe.
            await self._close()
            live = await proxy._keeper.invalidate(conn, live.generation)
            answer, error = await self._open(proxy._stream(request, client, live.auth))
        return await self._finish(answer, error, spend=False)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        inner, self.inner = self.inner, None
        if inner is not None:
            await inner.__aexit__(exc_type, exc, tb)

    async def _open(
        self, inner: AbstractAsyncContextManager[StreamedResponse]
    ) -> tuple[StreamedResponse, BillAPIError | None]:
        answer = await inner.__aenter__()
        self.inner = inner
        try:
            # Error answers always come read whole (StreamedResponse), so their code can be parsed.
            return answer, self.client.parse_error(answer.raw()) if answer.status >= 400 else None
        except BaseException:
            await self._close()
            raise

    async def _finish(
        self, answer: StreamedResponse, error: BillAPIError | None, *, spend: bool
    ) -> StreamedResponse:
        if isinstance(error, RateLimitError):
            await self._close()
            if spend:
                # Spend & Expense counts per minute (bill-api.md §9), not per hour.
                error.reset_at = _next_minute(utc_now())
            raise error
        return answer.with_raw_headers(returned_headers(answer.raw_headers))

    async def _close(self) -> None:
        inner, self.inner = self.inner, None
        if inner is not None:
            await inner.__aexit__(None, None, None)


def _next_minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1)
