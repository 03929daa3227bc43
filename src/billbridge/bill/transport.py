"""The seam between the client and the network: send bytes, get status, headers and bytes back.

``send`` reads the whole answer; ``stream`` hands over status and headers as soon as they arrive and
the body chunk by chunk (the proxy's path, so a large download never sits in memory whole).
Two implementations: :class:`AiohttpTransport` (the default and the hot path of the proxy, in
``aiohttp_transport``) and :class:`HttpxTransport` (wraps any ``httpx.AsyncClient``; tests hand it
an ``ASGITransport`` to the in-process simulator or a ``MockTransport``). Foreign exceptions are
translated into ``BillTransportError`` whose ``code`` says whether the request can have reached
BILL: each transport names its library's classes in a ``wire.Failures``.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, runtime_checkable

import httpx

from billbridge.bill.aiohttp_transport import AiohttpTransport as AiohttpTransport
from billbridge.bill.wire import CONNECTION_LOST as CONNECTION_LOST
from billbridge.bill.wire import NOT_SENT as NOT_SENT
from billbridge.bill.wire import TIMED_OUT as TIMED_OUT
from billbridge.bill.wire import Content as Content
from billbridge.bill.wire import Failures, declared_length, reads_whole, with_length
from billbridge.bill.wire import RawResponse as RawResponse
from billbridge.bill.wire import StreamedBody as StreamedBody
from billbridge.bill.wire import StreamedResponse as StreamedResponse


@runtime_checkable
class Transport(Protocol):
    """Sends one request. ``url`` is absolute with its query already percent-encoded;
    ``time_limit`` bounds the whole exchange in seconds. ``content`` is bytes, or a
    :class:`StreamedBody` to send as it comes (with its ``Content-Length`` when known)."""

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: Content,
        time_limit: float,
    ) -> RawResponse:
        """Send and read the whole answer; raise ``BillTransportError`` if there is none."""
        ...

    def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: Content,
        time_limit: float,
    ) -> AbstractAsyncContextManager[StreamedResponse]:
        """Send and yield the answer once its headers are in (see :class:`StreamedResponse`).

        ``time_limit`` bounds connecting and every wait for data, not the whole download. The
        connection is given back (or closed, if the body was left unread) when the block ends.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


_FAILURES = Failures(
    caught=(httpx.TransportError, TimeoutError),
    not_sent=(httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout),
    silent=(httpx.TimeoutException, TimeoutError),
)


class HttpxTransport:
    """A transport over an ``httpx.AsyncClient`` (which this transport then owns and closes).

    The client's cookie jar is set to refuse every cookie: one client serves many organizations
    and a cookie of one must never ride along with another's request.
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        client.cookies.jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self._client = client

    async def _open(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: Content,
        time_limit: float,
        *,
        stream: bool,
    ) -> httpx.Response:
        # The request both send and stream make: headers (or, with ``stream``, all) read in time.
        body: bytes | AsyncIterable[bytes] | None
        if isinstance(content, StreamedBody):
            headers, body = with_length(headers, content), content.chunks
        else:
            body = content
        request = self._client.build_request(method, url, headers=headers, content=body, timeout=time_limit)
        try:
            # asyncio.timeout also bounds transports that ignore httpx timeouts (ASGITransport).
            async with asyncio.timeout(time_limit):
                return await self._client.send(request, stream=stream)
        except _FAILURES.caught as exc:
            raise _FAILURES.translate(exc, time_limit) from exc

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
        response = await self._open(method, url, headers, content, time_limit, stream=False)
        return RawResponse(response.status_code, response.headers.multi_items(), response.content)

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: Content,
        time_limit: float,
    ) -> AsyncIterator[StreamedResponse]:
        """Send one request and stream its answer (see :class:`Transport`)."""
        response = await self._open(method, url, headers, content, time_limit, stream=True)
        try:
            pairs = response.headers.raw
            length = declared_length(response.headers)
            if reads_whole(response.status_code, method, length):
                try:
                    async with asyncio.timeout(time_limit):
                        body = await response.aread()
                except _FAILURES.caught as exc:
                    raise _FAILURES.translate(exc, time_limit) from exc
                yield StreamedResponse(response.status_code, pairs, body=body)
                return
            chunks = response.aiter_bytes()

            async def read() -> bytes:
                try:
                    return await anext(chunks, b"")
                except httpx.TransportError as exc:
                    raise _FAILURES.translate(exc, time_limit) from exc

            yield StreamedResponse(response.status_code, pairs, read=read, length=length)
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the wrapped client (a second call does nothing)."""
        await self._client.aclose()
