"""Proxy: forward one caller request to BILL with the connection's auth, limits and safe retries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType

from billbridge.bill import ApiTokenAuth, AuthFlow, BillClient, RawResponse
from billbridge.bill.transport import Content, StreamedResponse
from billbridge.connections.clients import BillClients
from billbridge.connections.clock import utc_now
from billbridge.connections.paths import confine_path, is_spend_path
from billbridge.connections.proxy_headers import outgoing_headers, returned_headers
from billbridge.connections.sessions import SessionKeeper
from billbridge.errors import RateLimitError, ValidationError
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

    def __init__(self, keeper: SessionKeeper, clients: BillClients) -> None:
        """Build the proxy.

        Args:
            keeper: Hands out live sessions (its auth flow renews them and replays once).
            clients: The BILL clients; their shared limits hold the in-flight slots and budgets
                (across processes with ``SharedLimits`` on PostgreSQL).
        """
        self._keeper = keeper
        self._clients = clients

    async def forward(
        self,
        conn: Connection,
        *,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Content = None,
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
        body: Content = None,
        retries: int = 0,
        base_url_override: str | None = None,
    ) -> AbstractAsyncContextManager[StreamedResponse]:
        """Send one request to BILL for ``conn``; the block gets BILL's answer as it comes.

        The organization's in-flight slot (taken in the client's send path, across processes on
        PostgreSQL) is held until the block ends, so read the body inside it: ``answer.body`` if
        it came whole (always so for error answers), else ``answer.next_chunk()`` until it
        returns ``b""``.

        Args:
            conn: The connection (from :meth:`SessionKeeper.lookup`, which caches it).
            method: HTTP method.
            path: The path after ``/proxy`` as received (percent-encoding kept), under ``/v3/``.
            query: Query pairs, passed through in order.
            headers: Caller headers to forward (``Nango-Proxy-`` prefix already removed).
            body: The request body, passed through (empty means none): bytes, or a
                ``StreamedBody`` relayed as it arrives and sent once (never retried or replayed).
            retries: Retries allowed where safe: reads, and any request BILL certainly did not
                process (``BDC_1322``, connection refused). Capped at 10; none for a streamed body.
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
        body: Content,
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
        spend = is_spend_path(target)
        auth: ApiTokenAuth | AuthFlow = _api_token_auth(conn) if spend else self._keeper.auth(conn)
        inner = client.stream(
            method.upper(),
            target,
            auth=auth,
            params=query,
            headers=outgoing_headers(headers),
            content=body or None,
            retries=retries,
        )
        return _Forwarding(client, inner, spend)

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


@dataclass(slots=True, eq=False)
class _Forwarding:
    """The block of one proxied request (a class rather than a generator: the proxy's hot path)."""

    client: BillClient
    inner: AbstractAsyncContextManager[StreamedResponse]
    spend: bool
    entered: bool = False

    async def __aenter__(self) -> StreamedResponse:
        answer = await self.inner.__aenter__()
        self.entered = True
        if answer.status == 429 or (answer.status >= 400 and b"BDC_1144" in (answer.body or b"")):
            # Error answers always come read whole, so their code can be parsed.
            error = self.client.parse_error(answer.raw())
            if isinstance(error, RateLimitError):
                await self._close()
                if self.spend:
                    # Spend & Expense counts per minute (bill-api.md §9), not per hour.
                    error.reset_at = _next_minute(utc_now())
                raise error
        answer.raw_headers = returned_headers(answer.raw_headers)  # the answer is this request's own
        return answer

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.entered:
            self.entered = False
            await self.inner.__aexit__(exc_type, exc, tb)

    async def _close(self) -> None:
        if self.entered:
            self.entered = False
            await self.inner.__aexit__(None, None, None)


def _next_minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1)
