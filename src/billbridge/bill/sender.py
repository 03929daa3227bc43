"""The one send path of the client: a request out, BILL's answer back as a stream.

For every try of every request, in this order and nowhere else: one budget unit is spent
(``RequestLimits.spend``), one in-flight slot is taken (``RequestLimits.slot``) and held while
the answer is on the wire, the transport streams the answer. Error answers come read whole and
are retried where safe (``retry``) with tenacity's ``AsyncRetrying`` and ``RetryPolicy``'s
backoff, after the slot was given back; ``BDC_1144`` spends the local budget too (and in "wait"
mode waits for the hour within the same try). Between tries of an
:class:`~billbridge.bill.auth.AuthFlow` (a renewed session replaying the request) no slot is held
either. A buffered answer is the stream, read.

A request whose body is a :class:`~billbridge.bill.wire.StreamedBody` is sent once: its bytes are
gone once sent, so it is never retried, never replayed by an auth flow (which still renews the
session for the next request) and never re-sent after waiting out a rate limit.

This is the hot path of the proxy, so it stays lean: no pydantic, a class rather than a
generator for the block, headers merged once per auth, and tenacity entered only once a first
try asks for a retry.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Literal

from tenacity import AsyncRetrying, retry_if_exception, retry_if_result, stop_after_attempt

from billbridge.bill.answers import error_code
from billbridge.bill.auth import ApiTokenAuth, Auth, AuthFlow, SessionAuth
from billbridge.bill.codes import RATE_LIMITED
from billbridge.bill.limits import BudgetSpentError, Priority, RequestLimits, next_minute
from billbridge.bill.retry import RetryPolicy, should_retry_answer, should_retry_failure
from billbridge.bill.transport import Content, RawResponse, StreamedBody, StreamedResponse, Transport
from billbridge.errors import BillTransportError

RateLimitMode = Literal["raise", "wait"]
# An answer and its BILL error code (None for a success).
_Tried = tuple[StreamedResponse, str | None]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class Outgoing:
    """One request, checked and encoded, without its auth headers.

    Attributes:
        label: ``METHOD /path`` for errors and logs (never the query: it may hold secrets).
        retries: retries allowed where safe.
        replay_safe: whether sending it twice has the effect of sending it once.
        login_key: for ``POST /v3/login`` (sent without auth): the (developer key, organization)
            the login counts against, as a login and as a request.
    """

    method: str
    url: str
    label: str
    headers: dict[str, str]
    content: Content
    retries: int
    replay_safe: bool
    priority: Priority = "live"
    login_key: tuple[str, str] | None = None


class Sender:
    """Sends :class:`Outgoing` requests through a transport under shared limits (see the module)."""

    def __init__(
        self,
        transport: Transport,
        limits: RequestLimits,
        *,
        timeout: float,
        on_rate_limit: RateLimitMode,
        retry_policy: RetryPolicy,
        sleep: Sleep | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.transport = transport
        self.limits = limits
        self.timeout = timeout
        self.on_rate_limit: RateLimitMode = on_rate_limit
        self.retry_policy = retry_policy
        self.sleep: Sleep = sleep or asyncio.sleep
        self.rng = rng or random.Random()

    def open(
        self, outgoing: Outgoing, auth: Auth | AuthFlow | None
    ) -> AbstractAsyncContextManager[StreamedResponse]:
        """Send ``outgoing``; the block gets BILL's answer, its body possibly still streaming.

        Error answers come read whole (``answer.body``). The in-flight slot (and the transport's
        connection) of a successful answer is held until the block ends.

        Raises:
            BudgetSpentError: a local budget is spent (nothing was sent), in "raise" mode.
            BillTransportError: no answer came after the allowed retries, or the body broke off.
        """
        return _Exchange(self, outgoing, auth)

    async def read(self, outgoing: Outgoing, auth: Auth | AuthFlow | None) -> RawResponse:
        """:meth:`open`, with the answer read whole."""
        async with _Exchange(self, outgoing, auth) as answer:
            return RawResponse(answer.status, answer.headers, await answer.read())

    async def wait_until(self, reset: datetime) -> None:
        """Sleep until a spent budget returns."""
        # A second past the top of the hour, so a slightly slow BILL clock has rolled over too.
        await self.sleep(max(0.0, reset.timestamp() - self.limits.clock()) + 1.0)


@dataclass(slots=True, eq=False)
class _Exchange:
    """The block of one request (a class rather than a generator: the proxy's hot path)."""

    sender: Sender
    outgoing: Outgoing
    auth: Auth | AuthFlow | None
    # While a successful answer streams: its transport block and the in-flight slot it holds.
    inner: AbstractAsyncContextManager[StreamedResponse] | None = None
    slot: AbstractAsyncContextManager[None] | None = None

    async def __aenter__(self) -> StreamedResponse:
        auth = self.auth
        if auth is None or isinstance(auth, SessionAuth | ApiTokenAuth):
            return await self._tries(auth)
        return await self._flow(auth.auth_flow())

    async def _flow(self, flow: AsyncGenerator[Auth, str | None]) -> StreamedResponse:
        try:
            auth = await anext(flow)
            while True:
                answer = await self._tries(auth)
                if answer.status < 400:
                    return answer
                # Error answers are read whole and hold nothing: replaying needs no clean-up.
                try:
                    auth = await flow.asend(error_code(answer.raw()))
                except StopAsyncIteration:
                    return answer
                if type(self.outgoing.content) is StreamedBody:
                    return answer  # its body is spent: the flow renewed the session for the next
        finally:
            await flow.aclose()

    async def _tries(self, auth: Auth | None) -> StreamedResponse:
        """Try until the answer is one to hand over: the first try here, any retries under tenacity."""
        out = self.outgoing
        if auth is None:
            key, login, headers = out.login_key, out.login_key is not None, out.headers
        else:
            key, login, headers = auth.limit_key, False, {**out.headers, **auth.headers}
        # The first try stays outside tenacity (about 50 us a request): it is the proxy's hot path
        # and nearly every first answer is the one to hand over.
        first: _Tried | BillTransportError
        try:
            first = await self._attempt(key, login, headers)
        except BillTransportError as exc:
            if not self._retry_failure(exc):
                raise
            first = exc
        else:
            if not self._retry_answer(first):
                return first[0]
        return await self._retries(first, key, login, headers)

    async def _retries(
        self,
        first: _Tried | BillTransportError,
        key: tuple[str, str] | None,
        login: bool,
        headers: dict[str, str],
    ) -> StreamedResponse:
        """Retry with capped, jittered backoff; tenacity starts from the first try's outcome."""
        sender = self.sender
        pending = [first]

        async def attempt() -> _Tried:
            if pending:  # tenacity's first attempt is the try already made
                outcome = pending.pop()
                if isinstance(outcome, BillTransportError):
                    raise outcome
                return outcome
            return await self._attempt(key, login, headers)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.outgoing.retries + 1),
            wait=lambda state: sender.retry_policy.delay(state.attempt_number - 1, sender.rng),
            retry=retry_if_exception(self._retry_failure) | retry_if_result(self._retry_answer),
            sleep=sender.sleep,
            # Out of retries: the last answer is handed over, the last failure raised.
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        tried: _Tried = await retrying(attempt)
        return tried[0]

    def _retry_failure(self, exc: BaseException) -> bool:
        """Whether a try that got no answer is worth another (see ``bill.retry``)."""
        out = self.outgoing
        return (
            isinstance(exc, BillTransportError)
            and out.retries > 0
            and type(out.content) is not StreamedBody
            and should_retry_failure(exc, replay_safe=out.replay_safe)
        )

    def _retry_answer(self, tried: _Tried) -> bool:
        """Whether an answer is worth another try (``BDC_1144`` never: its budget returns hourly)."""
        answer, code = tried
        out = self.outgoing
        return (
            answer.status >= 400
            and code != RATE_LIMITED
            and out.retries > 0
            and type(out.content) is not StreamedBody
            and should_retry_answer(status=answer.status, code=code, replay_safe=out.replay_safe)
        )

    async def _attempt(self, key: tuple[str, str] | None, login: bool, headers: dict[str, str]) -> _Tried:
        """One try: a budget unit, then the request; waiting out spent budgets in "wait" mode.

        Returns the answer and its BILL error code (None for a success). ``BDC_1144`` marks the
        budget spent; in "wait" mode this try then waits for the hour and sends again.
        """
        sender, out = self.sender, self.outgoing
        limits = sender.limits
        once = type(out.content) is StreamedBody
        while True:
            if key is not None:
                try:
                    await limits.spend(key[0], key[1], login=login, priority=out.priority)
                except BudgetSpentError as exc:
                    if sender.on_rate_limit != "wait":
                        exc.request = out.label
                        raise
                    await sender.wait_until(exc.reset_at)
                    continue
            try:
                answer = await self._try(key, headers)
            except BillTransportError as exc:
                exc.request = out.label
                raise
            if answer.status < 400:
                return answer, None
            code = error_code(answer.raw())
            if code != RATE_LIMITED:
                return answer, code
            if key is not None:
                reset = await limits.exhausted(key[0], login=login)
            else:
                # API-token (Spend & Expense) budgets are per minute, not per hour.
                reset = next_minute(limits.clock())
            if sender.on_rate_limit != "wait" or once:
                return answer, code
            await sender.wait_until(reset)

    async def _try(self, key: tuple[str, str] | None, headers: dict[str, str]) -> StreamedResponse:
        sender, out = self.sender, self.outgoing
        slot = None if key is None else sender.limits.slot(key[0], key[1], priority=out.priority)
        if slot is not None:
            await slot.__aenter__()
        try:
            inner = sender.transport.stream(
                out.method, out.url, headers=headers, content=out.content, time_limit=sender.timeout
            )
            answer = await inner.__aenter__()
        except BaseException:
            if slot is not None:
                await slot.__aexit__(None, None, None)
            raise
        if answer.status < 400:
            self.inner, self.slot = inner, slot
            return answer
        # Error answers come read whole: give the connection and the slot back before deciding,
        # so that backing off (or renewing a session) never keeps another request waiting.
        try:
            await inner.__aexit__(None, None, None)
        finally:
            if slot is not None:
                await slot.__aexit__(None, None, None)
        return answer

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
                await slot.__aexit__(None, None, None)
