"""The aiohttp transport: the default, and the hot path of the proxy (see ``transport``)."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager

import aiohttp
from yarl import URL

from billbridge.bill.wire import (
    RawResponse,
    StreamedResponse,
    declared_length,
    lost,
    reads_whole,
    timed_out,
    unreachable,
)
from billbridge.errors import BillTransportError


def _from_aiohttp(exc: Exception, time_limit: float) -> BillTransportError:
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return unreachable(type(exc).__name__)
    if isinstance(exc, TimeoutError):
        return timed_out(time_limit)
    return lost(type(exc).__name__)


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

    def _stream_timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        # No total: a long download may take longer than BILL may take to start answering.
        key = -seconds
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = self._timeouts[key] = aiohttp.ClientTimeout(connect=seconds, sock_read=seconds)
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
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _from_aiohttp(exc, time_limit) from exc

    def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        time_limit: float,
    ) -> AbstractAsyncContextManager[StreamedResponse]:
        """Send one request and stream its answer (see :class:`Transport`)."""
        return _AiohttpStream(self, method, url, headers, content, time_limit)

    async def aclose(self) -> None:
        """Close the session if this transport created it."""
        session = self._session
        if session is not None and self._owns_session and not session.closed:
            await session.close()


class _AiohttpStream:
    """The block of one streamed aiohttp exchange (a class: this is the proxy's hot path)."""

    __slots__ = ("_content", "_headers", "_method", "_response", "_time_limit", "_transport", "_url")

    def __init__(
        self,
        transport: AiohttpTransport,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        time_limit: float,
    ) -> None:
        self._transport = transport
        self._method = method
        self._url = url
        self._headers = headers
        self._content = content
        self._time_limit = time_limit
        self._response: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> StreamedResponse:
        transport, time_limit = self._transport, self._time_limit
        try:
            response = self._response = await transport._client().request(
                self._method,
                URL(self._url, encoded=True),
                headers=self._headers,
                data=self._content,
                timeout=transport._stream_timeout(time_limit),
                allow_redirects=False,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _from_aiohttp(exc, time_limit) from exc
        try:
            length = declared_length(response.headers)
            payload = response.content
            # A body that came in with the headers is taken whole: nothing left to stream.
            if reads_whole(response.status, self._method, length) or payload.is_eof():
                body = await response.read()
                return StreamedResponse(response.status, response.raw_headers, body=body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            response.release()
            raise _from_aiohttp(exc, time_limit) from exc
        except BaseException:
            response.release()
            raise

        async def read() -> bytes:
            try:
                return await payload.readany()
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise _from_aiohttp(exc, time_limit) from exc

        return StreamedResponse(response.status, response.raw_headers, read=read, length=length)

    async def __aexit__(self, *exc_info: object) -> None:
        # Back to the pool if the body was read to its end; closed otherwise.
        if self._response is not None:
            self._response.release()
