"""The proxy's request bodies: capped as they arrive, small ones held, large ones streamed to BILL.

The rule (the README's proxy section says the same):

- A body longer than the cap (``BILLBRIDGE_PROXY_MAX_BODY_BYTES``, 16 MiB by default) is refused
  with 413 ``payload_too_large``: at once when its ``Content-Length`` says so, else as soon as the
  bytes that arrived pass the cap.
- A body that ends within its first ``REPLAYABLE_BODY_BYTES`` (1 MiB; every JSON call of BILL's
  API) is held whole, so it can be retried and replayed after a re-login like any request.
- A longer body (an attachment upload) is relayed to BILL as it arrives and is never held whole:
  it is sent once, with no retry and no replay after a re-login (the caller gets BILL's answer,
  or 502 if the connection to BILL broke). Passing the cap mid-way aborts the request to BILL
  (which then never receives a complete request) and answers 413.
- With an ``Idempotency-Key`` the body is held whole (up to the cap): its hash is part of the key's
  fingerprint, known before BILL is called.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.types import Receive

from billbridge.bill.transport import StreamedBody
from billbridge.web.request_guard import BodyTooLargeError

REPLAYABLE_BODY_BYTES = 1024 * 1024
CAP_SETTING = "BILLBRIDGE_PROXY_MAX_BODY_BYTES"


class CallerGoneError(Exception):
    """The caller disconnected before its request body was whole: nothing is sent to BILL."""


def too_large(limit: int) -> BodyTooLargeError:
    return BodyTooLargeError(limit, setting=CAP_SETTING)


class Upload:
    """A body being relayed to BILL as it arrives; ``failure`` says why it stopped early, if it did."""

    __slots__ = ("_chunks", "_limit", "_receive", "_seen", "body", "failure")

    def __init__(
        self, receive: Receive, chunks: list[bytes], seen: int, limit: int, length: int | None
    ) -> None:
        self._receive = receive
        self._chunks = chunks
        self._seen = seen
        self._limit = limit
        self.failure: BodyTooLargeError | CallerGoneError | None = None
        self.body = StreamedBody(self._relay(), length=length)

    async def _relay(self) -> AsyncIterator[bytes]:
        chunks, self._chunks = self._chunks[::-1], []
        while chunks:
            yield chunks.pop()  # the first megabyte, let go of piece by piece
        more = True
        while more:
            try:
                chunk, self._seen, more = await _next_chunk(self._receive, self._seen, self._limit)
            except (BodyTooLargeError, CallerGoneError) as exc:
                self.failure = exc
                raise
            if chunk:
                yield chunk


async def read_body(receive: Receive, limit: int, declared: int | None) -> bytes | Upload:
    """The request body: bytes if it ended within ``REPLAYABLE_BODY_BYTES``, else an
    :class:`Upload` that relays the rest as it comes (see the module for the rule).

    Raises:
        BodyTooLargeError: 413 once the body (or its declared length) passes ``limit``.
        CallerGoneError: the caller left before its body was whole.
    """
    held = await _hold(receive, limit, declared, min(limit, REPLAYABLE_BODY_BYTES))
    if isinstance(held, bytes):
        return held
    chunks, seen = held
    return Upload(receive, chunks, seen, limit, declared)


async def read_whole(receive: Receive, limit: int, declared: int | None) -> bytes:
    """The whole request body, held in memory; raises as :func:`read_body` does."""
    held = await _hold(receive, limit, declared, limit)
    if isinstance(held, bytes):
        return held
    raise too_large(limit)  # more than the cap arrived


async def _hold(
    receive: Receive, limit: int, declared: int | None, most: int
) -> bytes | tuple[list[bytes], int]:
    """The body if it ends within ``most`` bytes, else the chunks read so far and their length."""
    if declared is not None and declared > limit:
        raise too_large(limit)
    body, seen, more = await _next_chunk(receive, 0, limit)
    if not more:
        return body  # the usual case: the whole body (or none) in one message
    chunks = [body]
    while seen <= most:
        chunk, seen, more = await _next_chunk(receive, seen, limit)
        chunks.append(chunk)
        if not more:
            return b"".join(chunks)
    return chunks, seen


async def _next_chunk(receive: Receive, seen: int, limit: int) -> tuple[bytes, int, bool]:
    """The body's next piece, the bytes seen with it, and whether more follow.

    Raises:
        BodyTooLargeError: the bytes seen pass ``limit``.
        CallerGoneError: the caller left before its body was whole.
    """
    message = await receive()
    if message["type"] != "http.request":
        raise CallerGoneError()
    chunk: bytes = message.get("body", b"")
    seen += len(chunk)
    if seen > limit:
        raise too_large(limit)
    return chunk, seen, bool(message.get("more_body", False))
