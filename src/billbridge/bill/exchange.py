"""The client's core: one request out, with BILL's limits held, safe retries and rate-limit handling.

This is the hot path of the proxy, so it stays lean: no pydantic, headers built from cached
dictionaries, the in-flight slot held only while bytes are on the wire (never while backing off).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime
from typing import Literal, Self, TypedDict, TypeVar
from urllib.parse import quote, urlencode

from billbridge.bill.answers import build_error, error_code
from billbridge.bill.codes import RATE_LIMITED
from billbridge.bill.environments import Environment
from billbridge.bill.limits import Limits, next_minute
from billbridge.bill.retry import RetryPolicy, should_retry_answer, should_retry_failure
from billbridge.bill.transport import AiohttpTransport, RawResponse, Transport
from billbridge.errors import BillAPIError, BillTransportError, RateLimitError, ValidationError

RateLimitMode = Literal["raise", "wait"]
Api = Literal["connect", "events"]
Sleep = Callable[[float], Awaitable[None]]
AnswerT = TypeVar("AnswerT")
#: One try at sending a request: BILL's answer, and the same answer read whole if it is an error
#: answer (None for a success). Raises ``BillTransportError`` if no answer came.
Attempt = Callable[[], Awaitable[tuple[AnswerT, RawResponse | None]]]


class Outgoing(TypedDict):
    """One request as the exchange takes it (:meth:`ClientCore.exchange`'s arguments but ``login``)."""

    method: str
    url: str
    label: str
    headers: dict[str, str]
    content: bytes | None
    limit_key: tuple[str, str] | None
    retries: int
    replay_safe: bool


# The in-flight "slot" of requests BILL does not count per organization (API-token calls).
_UNLIMITED: AbstractAsyncContextManager[None] = nullcontext()

# Characters left bare in paths and query values: all legal there, and BILL's filter syntax uses them.
_PATH_SAFE = "/:@-._~!$&'()*+,;="
_QUERY_SAFE = ":,"


def encode_query(params: Iterable[tuple[str, str]]) -> str:
    """Percent-encode query pairs (order kept)."""
    return urlencode(list(params), quote_via=quote, safe=_QUERY_SAFE)


class ClientCore:
    """Sending, limits and retries; :class:`billbridge.bill.BillClient` adds the BILL calls."""

    def __init__(
        self,
        environment: Environment,
        *,
        transport: Transport | None = None,
        limits: Limits | None = None,
        timeout: float = 30.0,
        max_retries: int = 4,
        on_rate_limit: RateLimitMode = "raise",
        retry_policy: RetryPolicy | None = None,
        sleep: Sleep | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValidationError("timeout must be positive", field="timeout")
        if max_retries < 0:
            raise ValidationError("max_retries must be 0 or more", field="max_retries")
        if on_rate_limit not in ("raise", "wait"):
            raise ValidationError("on_rate_limit must be 'raise' or 'wait'", field="on_rate_limit")
        self.environment = environment
        self.transport: Transport = transport if transport is not None else AiohttpTransport()
        self.limits = limits if limits is not None else Limits()
        self.timeout = timeout
        self.max_retries = max_retries
        self.on_rate_limit: RateLimitMode = on_rate_limit
        self.retry_policy = retry_policy or RetryPolicy()
        self._sleep: Sleep = sleep or asyncio.sleep
        self._rng = rng or random.Random()

    def __repr__(self) -> str:
        env = self.environment
        return f"{type(self).__name__}(environment={env.name!r}, gateway={env.gateway!r})"

    async def aclose(self) -> None:
        """Close the transport, given or default (as ``httpx.AsyncClient`` does); idempotent."""
        await self.transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def url(self, path: str, query: str = "", *, api: Api = "connect") -> str:
        """The absolute URL of an API path such as ``/v3/vendors``.

        Raises:
            ValidationError: if the path does not start with ``/v3/`` or climbs with ``..``.
        """
        if not path.startswith("/v3/") or "/../" in path or path.endswith("/.."):
            raise ValidationError(f"BILL API paths start with /v3/, not {path[:40]!r}", field="path")
        base = self.environment.events_base if api == "events" else self.environment.api_base
        url = base + quote(path, safe=_PATH_SAFE)
        return f"{url}?{query}" if query else url

    async def exchange(
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
        login: bool = False,
    ) -> RawResponse:
        """Send one request: budgets counted, the in-flight slot held, retries where safe.

        Returns BILL's answer whatever its status (``BDC_1144`` answers included in "raise"
        mode); raises ``RateLimitError`` when a local hourly budget is spent and
        ``BillTransportError`` when no answer came after the allowed retries.
        """
        transport, timeout = self.transport, self.timeout
        slot = _UNLIMITED if limit_key is None else self.limits.slot(*limit_key)

        async def attempt() -> tuple[RawResponse, RawResponse | None]:
            async with slot:  # held while bytes are on the wire, never while backing off
                raw = await transport.send(method, url, headers=headers, content=content, time_limit=timeout)
            return raw, raw if raw.status >= 400 else None

        return await self._attempts(
            attempt, label=label, limit_key=limit_key, retries=retries, replay_safe=replay_safe, login=login
        )

    async def _attempts(
        self,
        attempt: Attempt[AnswerT],
        *,
        label: str,
        limit_key: tuple[str, str] | None,
        retries: int,
        replay_safe: bool,
        login: bool = False,
    ) -> AnswerT:
        """Make ``attempt`` until its answer is one to hand over: the one place where budgets,
        retries and BILL's rate limit are decided, for buffered and streamed exchanges alike.

        Each try is first counted against the local hourly budgets (spent: ``RateLimitError`` or a
        wait, by ``on_rate_limit``). No answer, or an error answer, is tried again after a backoff
        up to ``retries`` times where the retry rules allow. ``BDC_1144`` spends the local budget
        too and is handed over, or waited out (which is not a retry).
        """
        limits = self.limits
        retried = 0
        while True:
            if limit_key is not None:
                while (reset := limits.take_request(limit_key[0], login=login)) is not None:
                    await self._budget_spent(reset, label=label, login=login)
            try:
                answer, error = await attempt()
            except BillTransportError as exc:
                exc.request = label
                if retried >= retries or not should_retry_failure(exc, replay_safe=replay_safe):
                    raise
                await self._sleep(self.retry_policy.delay(retried, self._rng))
                retried += 1
                continue
            if error is None:
                return answer
            code = error_code(error)
            if code == RATE_LIMITED:
                if limit_key is not None:
                    reset = limits.exhaust(limit_key[0], login=login)
                else:
                    # API-token (Spend & Expense) budgets are per minute, not per hour.
                    reset = next_minute(limits.clock())
                if self.on_rate_limit != "wait":
                    return answer
                await self._wait_until(reset)
            elif retried < retries and should_retry_answer(
                status=error.status, code=code, replay_safe=replay_safe
            ):
                await self._sleep(self.retry_policy.delay(retried, self._rng))
                retried += 1
            else:
                return answer

    async def _budget_spent(self, reset: datetime, *, label: str, login: bool) -> None:
        if self.on_rate_limit == "wait":
            await self._wait_until(reset)
            return
        what = "login or request" if login else "request"
        raise RateLimitError(
            f"the hourly {what} budget of this developer key is spent (counted here, before BILL "
            f"refuses); it returns at {reset.isoformat()}",
            reset_at=reset,
            code="hourly_budget_spent",
            request=label,
        )

    async def _wait_until(self, reset: datetime) -> None:
        # A second past the top of the hour, so a slightly slow BILL clock has rolled over too.
        await self._sleep(max(0.0, reset.timestamp() - self.limits.clock()) + 1.0)

    def error_for(
        self, raw: RawResponse, *, label: str, secrets: Iterable[str] = (), per_minute: bool = False
    ) -> BillAPIError:
        """The exception for an error answer, with the environment named and secrets scrubbed.

        ``per_minute`` marks API-token calls, whose rate limit returns at the next minute.
        """
        now = self.limits.clock()
        return build_error(
            raw,
            request=label,
            environment=self.environment.name,
            secrets=secrets,
            now=now,
            reset_at=next_minute(now) if per_minute else None,
        )
