"""The aiohttp transport: the default, and the hot path of the proxy (see ``transport``)."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import aiohttp
from aiohttp.client import _RequestContextManager
from yarl import URL

from billbridge.bill.wire import (
    Content,
    Failures,
    RawResponse,
    StreamedBody,
    StreamedResponse,
    declared_length,
    reads_whole,
    with_length,
)

_FAILURES = Failures(
    caught=(aiohttp.ClientError, TimeoutError),
    not_sent=(aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError),
)


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

    def _request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: Content,
        timeout: aiohttp.ClientTimeout,
    ) -> _RequestContextManager:
        # The URL's query is already percent-encoded; redirects are BILL's answer, not to be followed.
        data: bytes | AsyncIterable[bytes] | None
        if isinstance(content, StreamedBody):
            headers, data = with_length(headers, content), content.chunks
        else:
            data = content
        return self._client().request(
            method,
            URL(url, encoded=True),
            headers=headers,
            data=data,
            timeout=timeout,
            allow_redirects=False,
        )

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: Content,
        time_limit: float,
    ) -> RawResponse:
        """Send one request (see :class:`Transport`)."""
        try:
            async with self._request(method, url, headers, content, self._timeout(time_limit)) as response:
                body = await response.read()
                pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]
                return RawResponse(response.status, pairs, body)
        except _FAILURES.caught as exc:
            raise _FAILURES.translate(exc, time_limit) from exc

    def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: Content,
        time_limit: float,
    ) -> AbstractAsyncContextManager[StreamedResponse]:
        """Send one request and stream its answer (see :class:`Transport`)."""
        return _AiohttpStream(self, method, url, headers, content, time_limit)

    async def aclose(self) -> None:
        """Close the session if this transport created it."""
        session = self._session
        if session is not None and self._owns_session and not session.closed:
            await session.close()


@dataclass(slots=True, eq=False)
class _AiohttpStream:
    """The block of one streamed aiohttp exchange (a class: this is the proxy's hot path)."""

    transport: AiohttpTransport
    method: str
    url: str
    headers: Mapping[str, str]
    content: Content
    time_limit: float
    response: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> StreamedResponse:
        transport, time_limit = self.transport, self.time_limit
        timeout = transport._stream_timeout(time_limit)
        try:
            response = self.response = await transport._request(
                self.method, self.url, self.headers, self.content, timeout
            )
        except _FAILURES.caught as exc:
            raise _FAILURES.translate(exc, time_limit) from exc
        try:
            length = declared_length(response.headers)
            payload = response.content
            # A body that came in with the headers is taken whole: nothing left to stream.
            if reads_whole(response.status, self.method, length) or payload.is_eof():
                body = await response.read()
                return StreamedResponse(response.status, response.raw_headers, body=body)
        except _FAILURES.caught as exc:
            response.release()
            raise _FAILURES.translate(exc, time_limit) from exc
        except BaseException:
            response.release()
            raise

        async def read() -> bytes:
            try:
                return await payload.readany()
            except _FAILURES.caught as exc:
                raise _FAILURES.translate(exc, time_limit) from exc

        return StreamedResponse(response.status, response.raw_headers, read=read, length=length)

    async def __aexit__(self, *exc_info: object) -> None:
        # Back to the pool if the body was read to its end; closed otherwise.
        if self.response is not None:
            self.response.release()
