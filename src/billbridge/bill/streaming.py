"""The streaming twin of ``ClientCore.exchange``: the in-flight slot is held until the body is over.

``exchange`` returns a whole answer, so it can give the slot back once the bytes are in. A streamed
answer is still on the wire when the caller gets it, and BILL counts the request as in flight
until its last byte has gone; so here the slot (and the transport's response) is released only
when the caller's block ends, whether the body was read to its end or abandoned.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from types import TracebackType

from billbridge.bill.answers import error_code
from billbridge.bill.codes import RATE_LIMITED
from billbridge.bill.exchange import ClientCore
from billbridge.bill.limits import next_minute
from billbridge.bill.retry import should_retry_answer, should_retry_failure
from billbridge.bill.wire import RawResponse, StreamedResponse
from billbridge.errors import BillTransportError


class StreamingCore(ClientCore):
    """Adds :meth:`exchange_stream` to the client core."""

    def exchange_stream(
        self,
        method: str,
        url: str,
        *,
        label: str,
        headers: dict[str, str],
        content: bytes | None,
        limit_key: tuple[str, str] | None,
        retries: int,
        replay_safe: bool,
    ) -> AbstractAsyncContextManager[StreamedResponse]:
        """Send one request; the block gets BILL's answer with its body still streaming.

        Budgets, retries and ``BDC_1144`` are handled as in :meth:`ClientCore.exchange`; error
        answers (which come read whole) are retried where safe before the block starts. Once a
        successful answer is handed over nothing is retried: its bytes go to the caller.

        Raises:
            RateLimitError: a local hourly budget is spent (nothing was sent).
            BillTransportError: no answer came after the allowed retries, or the body broke off
                while the caller read it.
        """
        return _Exchange(self, method, url, label, headers, content, limit_key, retries, replay_safe)

    async def _again(
        self, raw: RawResponse, *, limit_key: tuple[str, str] | None, attempt: int, retries: int, safe: bool
    ) -> int | None:
        """The attempt number to send an error answer's request again with (after waiting here as
        needed), or None to hand the answer over."""
        code = error_code(raw)
        if code == RATE_LIMITED:
            if limit_key is not None:
                reset = self.limits.exhaust(limit_key[0])
            else:
                # API-token (Spend & Expense) budgets are per minute, not per hour.
                reset = next_minute(self.limits.clock())
            if self.on_rate_limit != "wait":
                return None
            await self._wait_until(reset)
            return attempt  # waiting for the budget is not a retry
        if attempt < retries and should_retry_answer(status=raw.status, code=code, replay_safe=safe):
            await self._sleep(self.retry_policy.delay(attempt, self._rng))
            return attempt + 1
        return None


class _Exchange:
    """The block of one streamed exchange (a class rather than a generator: the proxy's hot path)."""

    __slots__ = (
        "_content",
        "_core",
        "_headers",
        "_inner",
        "_label",
        "_limit_key",
        "_method",
        "_replay_safe",
        "_retries",
        "_slot",
        "_url",
    )

    def __init__(
        self,
        core: StreamingCore,
        method: str,
        url: str,
        label: str,
        headers: dict[str, str],
        content: bytes | None,
        limit_key: tuple[str, str] | None,
        retries: int,
        replay_safe: bool,
    ) -> None:
        self._core = core
        self._method = method
        self._url = url
        self._label = label
        self._headers = headers
        self._content = content
        self._limit_key = limit_key
        self._retries = retries
        self._replay_safe = replay_safe
        self._inner: AbstractAsyncContextManager[StreamedResponse] | None = None
        self._slot: asyncio.Semaphore | None = None

    async def __aenter__(self) -> StreamedResponse:
        core, limit_key = self._core, self._limit_key
        attempt = 0
        while True:
            if limit_key is not None:
                reset = core.limits.take_request(limit_key[0])
                if reset is not None:
                    await core._budget_spent(reset, label=self._label, login=False)
                    continue
            slot = None if limit_key is None else core.limits.slot(*limit_key)
            if slot is not None:
                await slot.acquire()
            inner = core.transport.stream(
                self._method, self._url, headers=self._headers, content=self._content, time_limit=core.timeout
            )
            try:
                answer = await inner.__aenter__()
            except BillTransportError as exc:
                if slot is not None:
                    slot.release()
                exc.request = self._label
                if attempt < self._retries and should_retry_failure(exc, replay_safe=self._replay_safe):
                    await core._sleep(core.retry_policy.delay(attempt, core._rng))
                    attempt += 1
                    continue
                raise
            except BaseException:
                if slot is not None:
                    slot.release()
                raise
            if answer.status < 400:
                self._inner, self._slot = inner, slot
                return answer
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
            again = await core._again(
                raw, limit_key=limit_key, attempt=attempt, retries=self._retries, safe=self._replay_safe
            )
            if again is None:
                return answer
            attempt = again

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        inner, self._inner = self._inner, None
        slot, self._slot = self._slot, None
        try:
            if inner is not None:
                await inner.__aexit__(exc_type, exc, tb)
        finally:
            if slot is not None:
                slot.release()
