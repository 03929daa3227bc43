"""The streaming twin of ``ClientCore.exchange``: the in-flight slot is held until the body is over.

``exchange`` returns a whole answer, so it can give the slot back once the bytes are in. A streamed
answer is still on the wire when the caller gets it, and BILL counts the request as in flight
until its last byte has gone; so here the slot (and the transport's response) is released only
when the caller's block ends, whether the body was read to its end or abandoned.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType

from billbridge.bill.exchange import ClientCore, Outgoing
from billbridge.bill.wire import RawResponse, StreamedResponse


class StreamingCore(ClientCore):
    """Adds :meth:`exchange_stream` to the client core."""

    def exchange_stream(self, outgoing: Outgoing) -> AbstractAsyncContextManager[StreamedResponse]:
        """Send one request; the block gets BILL's answer with its body still streaming.

        ``outgoing`` holds what :meth:`ClientCore.exchange` takes as arguments, and budgets, retries
        and ``BDC_1144`` are handled as there; error answers (which come read whole) are retried
        where safe before the block starts. Once a successful answer is handed over nothing is
        retried: its bytes go to the caller.

        Raises:
            RateLimitError: a local hourly budget is spent (nothing was sent).
            BillTransportError: no answer came after the allowed retries, or the body broke off
                while the caller read it.
        """
        return _Exchange(self, outgoing)


@dataclass(slots=True, eq=False)
class _Exchange:
    """The block of one streamed exchange (a class rather than a generator: the proxy's hot path)."""

    core: StreamingCore
    outgoing: Outgoing
    # While a successful answer streams: its transport block and the in-flight slot it holds.
    inner: AbstractAsyncContextManager[StreamedResponse] | None = None
    slot: asyncio.Semaphore | None = None

    async def __aenter__(self) -> StreamedResponse:
        out = self.outgoing
        return await self.core._attempts(
            self._attempt,
            label=out["label"],
            limit_key=out["limit_key"],
            retries=out["retries"],
            replay_safe=out["replay_safe"],
        )

    async def _attempt(self) -> tuple[StreamedResponse, RawResponse | None]:
        core, out = self.core, self.outgoing
        limit_key = out["limit_key"]
        slot = None if limit_key is None else core.limits.slot(*limit_key)
        if slot is not None:
            await slot.acquire()
        try:
            inner = core.transport.stream(
                out["method"],
                out["url"],
                headers=out["headers"],
                content=out["content"],
                time_limit=core.timeout,
            )
            answer = await inner.__aenter__()
        except BaseException:
            if slot is not None:
                slot.release()
            raise
        if answer.status < 400:
            self.inner, self.slot = inner, slot
            return answer, None
        # Error answers come read whole: give the connection and the slot back before deciding,
        # so that backing off never keeps another request waiting.
        try:
            raw = answer.raw()
        finally:
            try:
                await inner.__aexit__(None, None, None)
            finally:
                if slot is not None:
                    slot.release()
        return answer, raw

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        inner, self.inner = self.inner, None
        slot, self.slot = self.slot, None
        try:
            if inner is not None:
                await inner.__aexit__(exc_type, exc, tb)
        finally:
            if slot is not None:
                slot.release()
