"""The seam between the client and the network: send bytes, get status, headers and bytes back.

Two implementations: :class:`AiohttpTransport` (the default and the hot path of the proxy) and
:class:`HttpxTransport` (wraps any ``httpx.AsyncClient``; tests hand it an ``ASGITransport`` to the
in-process simulator or a ``MockTransport``). Foreign exceptions are translated here into
``BillTransportError`` whose ``code`` says whether the request can have reached BILL.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

import aiohttp
import httpx
from yarl import URL

from billbridge.errors import BillTransportError

# BillTransportError codes: only NOT_SENT proves BILL did nothing with the request.
NOT_SENT: Final = "bill_unreachable"
TIMED_OUT: Final = "bill_timeout"
CONNECTION_LOST: Final = "bill_connection_lost"


@dataclass(frozen=True, slots=True)
class RawResponse:
    """An answer as it came off the wire (headers in order, names as sent)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first header called ``name`` (any letter case), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


@runtime_checkable
class Transport(Protocol):
    """Sends one request. ``url`` is absolute with its query already percent-encoded;
    ``time_limit`` bounds the whole exchange in seconds."""

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        time_limit: float,
    ) -> RawResponse:
        """Send and read the whole answer; raise ``BillTransportError`` if there is none."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def _unreachable(kind: str) -> BillTransportError:
    return BillTransportError(f"BILL could not be reached ({kind})", code=NOT_SENT)


def _timed_out(timeout: float) -> BillTransportError:
    return BillTransportError(f"BILL did not answer within {timeout:g} s", code=TIMED_OUT)


def _lost(kind: str) -> BillTransportError:
    return BillTransportError(
        f"the connection to BILL failed before a whole answer arrived ({kind})", code=CONNECTION_LOST
    )


class HttpxTransport:
    """A transport over an ``httpx.AsyncClient`` (which this transport then owns and closes).

    The client's cookie jar is set to refuse every cookie: one client serves many organizations
    and a cookie of one must never ride along with another's request.
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        client.cookies.jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self._client = client

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        time_limit: float,
    ) -> RawResponse:
        """Send one request (see :class:`Transport`)."""
        try:
            # asyncio.timeout also bounds transports that ignore httpx timeouts (ASGITransport).
            async with asyncio.timeout(time_limit):
                response = await self._client.request(
                    method, url, headers=headers, content=content, timeout=time_limit
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _unreachable(type(exc).__name__) from exc
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise _timed_out(time_limit) from exc
        except httpx.TransportError as exc:
            raise _lost(type(exc).__name__) from exc
        return RawResponse(response.status_code, response.headers.multi_items(), response.content)

    async def aclose(self) -> None:
        """Close the wrapped client (a second call does nothing)."""
        await self._client.aclose()


class AiohttpTransport:
    """A transport over one shared ``aiohttp.ClientSession`` (created on first use).

    Args:
        limit: the connection pool size across all hosts.
        session: an existing session to use (then the caller closes it).
    """

    def __init__(self, *, limit: int = 256, session: aiohttp.ClientSession | None = None) -> None:
        self._limit = limit
        self._session = session
        self._owns_session = session is None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _client(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=300)
            # No cookie jar: one session serves many organizations (see HttpxTransport).
            session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
            self._session = session
            self._owns_session = True
        return session

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        time_limit: float,
    ) -> RawResponse:
        """Send one request (see :class:`Transport`)."""
        try:
            async with self._client().request(
                method,
                URL(url, encoded=True),
                headers=headers,
                data=content,
                timeout=self._timeout(time_limit),
                allow_redirects=False,
            ) as response:
                body = await response.read()
                pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]
                return RawResponse(response.status, pairs, body)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise _unreachable(type(exc).__name__) from exc
        except TimeoutError as exc:
            raise _timed_out(time_limit) from exc
        except aiohttp.ClientError as exc:
            raise _lost(type(exc).__name__) from exc

    async def aclose(self) -> None:
        """Close the session if this transport created it."""
        session = self._session
        if session is not None and self._owns_session and not session.closed:
            await session.close()
