"""What comes off the wire: an answer read whole (``RawResponse``) or still arriving
(``StreamedResponse``), or a failure (``BillTransportError`` with a code saying whether the request
can have reached BILL)."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from billbridge.errors import BillTransportError

# BillTransportError codes: only NOT_SENT proves BILL did nothing with the request.
NOT_SENT: Final = "bill_unreachable"
TIMED_OUT: Final = "bill_timeout"
CONNECTION_LOST: Final = "bill_connection_lost"
# A streamed answer's body is read at once when it is known to be at most this long (one write,
# no streaming machinery for the common small page); longer or open-ended bodies stream.
BUFFER_LIMIT: Final = 64 * 1024


@dataclass(frozen=True, slots=True, repr=False)
class StreamedBody:
    """A request body sent to BILL as it arrives (a large upload through the proxy), not held whole.

    It can be sent once only: a request with a streamed body is never retried or replayed.
    ``length`` is sent as ``Content-Length`` when known (otherwise the body goes chunked).
    """

    chunks: AsyncIterable[bytes]
    length: int | None = None

    def __repr__(self) -> str:
        return f"StreamedBody(length={self.length})"


#: What a request may carry: nothing, bytes (replayable), or a :class:`StreamedBody` (sent once).
Content = bytes | StreamedBody | None


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


class StreamedResponse:
    """An answer whose status and headers have arrived, valid inside the ``stream()`` block only.

    ``body`` holds the whole body when it was read at once: always for error answers (status 400
    and above: callers decide by BILL's error code), and for bodies known to fit ``BUFFER_LIMIT``.
    Otherwise ``body`` is None and :meth:`next_chunk` yields the body as it comes off the wire;
    ``length`` is then the body's length if BILL declared it (and did not compress it).
    Headers are kept as the bytes that arrived (``raw_headers``): a proxy relays them without
    decoding and encoding each one again; ``headers`` decodes them.
    """

    __slots__ = ("_read", "body", "length", "raw_headers", "status")

    def __init__(
        self,
        status: int,
        raw_headers: Sequence[tuple[bytes, bytes]],
        *,
        body: bytes | None = None,
        read: Callable[[], Awaitable[bytes]] | None = None,
        length: int | None = None,
    ) -> None:
        self.status = status
        self.raw_headers = raw_headers
        self.body = body
        self.length = length
        self._read = read

    def __repr__(self) -> str:
        return f"StreamedResponse(status={self.status}, buffered={self.body is not None})"

    @classmethod
    def of(cls, raw: RawResponse) -> StreamedResponse:
        """A stream over an answer already read whole."""
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in raw.headers]
        return cls(raw.status, headers, body=raw.body)

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The headers, decoded (in order, names as sent)."""
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self.raw_headers]

    async def next_chunk(self) -> bytes:
        """The next piece of the body; ``b""`` once it is over.

        Raises:
            BillTransportError: The connection failed or went silent before the body was whole.
        """
        if self._read is not None:
            return await self._read()
        body, self.body = self.body, b""
        return body or b""

    async def read(self) -> bytes:
        """The whole (rest of the) body, read into memory."""
        if self._read is not None:
            chunks = []
            while chunk := await self._read():
                chunks.append(chunk)
            self._read = None
            self.body = b"".join(chunks)
        return self.body or b""

    def raw(self) -> RawResponse:
        """The answer as a :class:`RawResponse`; only for one whose ``body`` is read."""
        if self.body is None:
            raise RuntimeError("the body of this answer has not been read")
        return RawResponse(self.status, self.headers, self.body)


def with_length(headers: Mapping[str, str], body: StreamedBody) -> Mapping[str, str]:
    """``headers`` with the streamed body's ``Content-Length``, when it is known."""
    if body.length is None:
        return headers
    return {**headers, "Content-Length": str(body.length)}


def reads_whole(status: int, method: str, length: int | None) -> bool:
    """Whether a transport reads this answer's body before handing the answer over."""
    # Error answers are read for their BDC code; HEAD, 1xx, 204 and 304 carry no body at all.
    if status >= 400 or method == "HEAD" or status < 200 or status in (204, 304):
        return True
    return length is not None and length <= BUFFER_LIMIT


def declared_length(headers: Mapping[str, str]) -> int | None:
    """The body length declared in ``headers`` (a case-insensitive mapping), unless the body is
    compressed (transports decode it, so the declared length no longer applies)."""
    if "content-encoding" in headers:
        return None
    value = headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def unreachable(kind: str) -> BillTransportError:
    """No connection was made: BILL certainly did nothing."""
    return BillTransportError(f"BILL could not be reached ({kind})", code=NOT_SENT)


def timed_out(timeout: float) -> BillTransportError:
    """BILL went silent; it may have acted on the request."""
    return BillTransportError(f"BILL did not answer within {timeout:g} s", code=TIMED_OUT)


def lost(kind: str) -> BillTransportError:
    """The connection failed mid-answer; BILL may have acted on the request."""
    return BillTransportError(
        f"the connection to BILL failed before a whole answer arrived ({kind})", code=CONNECTION_LOST
    )


@dataclass(frozen=True, slots=True)
class Failures:
    """How one HTTP library's exceptions become ``BillTransportError``: each transport names its
    classes, the translation is the same for all.

    Attributes:
        caught: every exception class of the library that means "no whole answer".
        not_sent: those that prove no connection was made (checked first: some are timeouts too).
        silent: those that mean BILL went quiet for longer than the time limit.
    """

    caught: tuple[type[BaseException], ...]
    not_sent: tuple[type[BaseException], ...]
    silent: tuple[type[BaseException], ...] = (TimeoutError,)

    def translate(self, exc: BaseException, time_limit: float) -> BillTransportError:
        """The ``BillTransportError`` for ``exc`` (raise it ``from exc``)."""
        if isinstance(exc, self.not_sent):
            return unreachable(type(exc).__name__)
        if isinstance(exc, self.silent):
            return timed_out(time_limit)
        return lost(type(exc).__name__)
