"""``BillClient``: the typed async client of BILL's v3 API, composed of a transport, limits and a sender.

Sessions: ``POST /v3/login`` opens one (35 minutes idle lifetime, every call resets it),
``POST /v3/logout`` ends it, ``GET /v3/login/session`` describes it; the MFA calls make it
trusted (https://developer.bill.com/reference/login.md, https://developer.bill.com/reference/setup).

Every call goes through one send path (:class:`billbridge.bill.sender.Sender`): ``stream`` hands
the answer over as it comes, ``send`` and ``request`` read it. ``auth`` is a fixed
:class:`SessionAuth` / :class:`ApiTokenAuth`, or an :class:`AuthFlow` that obtains the session
and renews it (the session keeper's, which replays once on ``BDC_1109``).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, Required, Self, TypedDict, Unpack

import orjson

from billbridge.bill import session_calls
from billbridge.bill.answers import build_error, decode_json, parse_error
from billbridge.bill.auth import ApiTokenAuth, Auth, AuthFlow, SessionAuth
from billbridge.bill.environments import Environment
from billbridge.bill.limits import Limits, Priority, RequestLimits, next_minute
from billbridge.bill.objects import ObjectFamily
from billbridge.bill.pagination import Page, walk_pages
from billbridge.bill.query import Filters, Sorts, list_params
from billbridge.bill.retry import RetryPolicy, is_replay_safe
from billbridge.bill.sender import Outgoing, RateLimitMode, Sender, Sleep
from billbridge.bill.transport import AiohttpTransport, Content, RawResponse, StreamedResponse, Transport
from billbridge.bill.urls import Api, Params, api_url, check_auth, encode_query, list_path, param_pairs
from billbridge.errors import BillAPIError, ValidationError

# Headers only the client may set: a caller's copy could carry another tenant's credentials.
_AUTH_HEADERS: Final = frozenset({"devkey", "sessionid", "apitoken"})
_JSON_HEADERS: Final = {"Accept": "application/json"}

AnyAuth = Auth | AuthFlow


class BillClient:
    """The client of one BILL environment; share one :class:`RequestLimits` across a process's clients.

    Args:
        environment: the environment (``SANDBOX``, ``PRODUCTION``, or ``environment(...)``).
        transport: how bytes travel (default: a new :class:`AiohttpTransport`); :meth:`aclose`
            closes it, so give each client its own.
        limits: in-flight slots and hourly budgets (default: a private in-process :class:`Limits`).
        timeout: seconds to wait for each answer.
        max_retries: retries of a failed call where retrying is safe.
        on_rate_limit: on a spent hourly budget, ``"raise"`` ``RateLimitError`` or ``"wait"``
            for the top of the hour.
        retry_policy: backoff shape; sleep and rng: injectable for tests.
    """

    def __init__(
        self,
        environment: Environment,
        *,
        transport: Transport | None = None,
        limits: RequestLimits | None = None,
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
        self.max_retries = max_retries
        self.sender = Sender(
            transport if transport is not None else AiohttpTransport(),
            limits if limits is not None else Limits(),
            timeout=timeout,
            on_rate_limit=on_rate_limit,
            retry_policy=retry_policy or RetryPolicy(),
            sleep=sleep,
            rng=rng,
        )

    @property
    def transport(self) -> Transport:
        return self.sender.transport

    @property
    def limits(self) -> RequestLimits:
        return self.sender.limits

    @property
    def timeout(self) -> float:
        return self.sender.timeout

    def __repr__(self) -> str:
        env = self.environment
        return f"{type(self).__name__}(environment={env.name!r}, gateway={env.gateway!r})"

    async def aclose(self) -> None:
        """Close the transport, given or default (as ``httpx.AsyncClient`` does); idempotent."""
        await self.sender.transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def url(self, path: str, query: str = "", *, api: Api = "connect") -> str:
        """The absolute URL of an API path such as ``/v3/vendors`` (see :func:`urls.api_url`)."""
        return api_url(self.environment, path, query, api=api)

    # -- the generic calls -------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        auth: AnyAuth,
        params: Params | None = None,
        json: Any = None,
        api: Api = "connect",
        replay_safe: bool | None = None,
        redact: Sequence[str] = (),
        priority: Priority = "live",
    ) -> Any:
        """Call BILL and return its decoded JSON (None for an empty answer).

        Args:
            method: the HTTP method.
            path: the API path, e.g. ``/v3/vendors`` (``/v3/spend/...`` needs an ApiTokenAuth).
            auth: the session or API token to call with, or a flow that provides (and renews) it.
            params: query parameters.
            json: the JSON body, if any.
            api: ``"events"`` for the Connect Events (webhook subscription) API.
            replay_safe: whether the call may be repeated after BILL may have processed it;
                default: decided from method and path (creating POSTs are not).
            redact: further secrets (e.g. sent in the body) to scrub from error texts.
            priority: ``"sync"`` for background work (see ``billbridge.bill.limits``).

        Raises:
            BillAPIError: the subclass for BILL's error code (see ``codes.CODES``).
            BillTransportError: BILL did not answer, after the allowed retries.
            ValidationError: a malformed path or an auth that does not fit the path.
        """
        method = method.upper()
        check_auth(path, auth, api)
        headers = dict(_JSON_HEADERS)
        content = None
        if json is not None:
            content = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        label = f"{method} {path}"
        outgoing = Outgoing(
            method,
            self.url(path, encode_query(param_pairs(params)) if params else "", api=api),
            label,
            headers,
            content,
            self.max_retries,
            is_replay_safe(method, path) if replay_safe is None else replay_safe,
            priority,
        )
        raw = await self.sender.read(outgoing, auth)
        if raw.status >= 400:
            if isinstance(auth, SessionAuth | ApiTokenAuth):
                secrets: tuple[str, ...] = (*auth.secrets(), *redact)
                per_minute = isinstance(auth, ApiTokenAuth)
            else:
                secrets = tuple(redact)
                per_minute = path.startswith("/v3/spend")
            # per_minute: API-token calls (Spend & Expense) are limited per minute, not per hour.
            raise self.error_for(raw, label=label, secrets=secrets, per_minute=per_minute)
        return decode_json(raw, request=label)

    async def send(self, method: str, path: str, **options: Unpack[RawOptions]) -> RawResponse:
        """Forward one request as bytes and return BILL's answer read whole, whatever its status.

        Auth headers are set here (a caller's ``devKey``, ``sessionId`` or ``apiToken`` header is
        dropped), the limits are held, and up to ``retries`` retries are made where safe. Use
        :meth:`parse_error` to turn an error answer into its class. ``path`` is the decoded path:
        it is percent-encoded here.

        Raises:
            BillTransportError: BILL did not answer.
            RateLimitError: the local hourly budget is spent (nothing was sent).
            ValidationError: a malformed path or an auth that does not fit the path.
        """
        return await self.sender.read(self._raw(method, path, options), options["auth"])

    def stream(
        self, method: str, path: str, **options: Unpack[RawOptions]
    ) -> AbstractAsyncContextManager[StreamedResponse]:
        """:meth:`send`, with a successful answer's body streamed rather than read whole.

        ``async with client.stream(...) as answer:`` yields once BILL's headers are in. Error
        answers come read whole (``answer.body``), so :meth:`parse_error` works on
        ``answer.raw()``; a success may still be arriving (``answer.next_chunk()``). The
        in-flight slot is held until the block ends. ``content`` may be a
        :class:`~billbridge.bill.transport.StreamedBody`: sent as it comes, once (no retry, no
        replay). Raises as :meth:`send` does.
        """
        return self.sender.open(self._raw(method, path, options), options["auth"])

    def _raw(self, method: str, path: str, options: RawOptions) -> Outgoing:
        method = method.upper()
        api = options.get("api", "connect")
        check_auth(path, options["auth"], api)
        given = options.get("headers")
        headers = {}
        if given:
            for name, value in given.items():
                if name.lower() not in _AUTH_HEADERS:
                    headers[name] = value
        params = options.get("params")
        return Outgoing(
            method,
            api_url(self.environment, path, encode_query(params) if params else "", api=api),
            f"{method} {path}",
            headers,
            options.get("content"),
            options.get("retries", 0),
            is_replay_safe(method, path),
            options.get("priority", "live"),
        )

    async def login_request(self, body: dict[str, Any], *, secrets: Iterable[str]) -> Any:
        """``POST /v3/login`` with ``body`` (no auth: it counts as a login of its developer key)."""
        label = "POST /v3/login"
        outgoing = Outgoing(
            "POST",
            self.url("/v3/login"),
            label,
            {"Content-Type": "application/json", **_JSON_HEADERS},
            orjson.dumps(body),
            self.max_retries,
            True,
            login_key=(body["devKey"], body["organizationId"]),
        )
        raw = await self.sender.read(outgoing, None)
        if raw.status >= 400:
            raise self.error_for(raw, label=label, secrets=secrets)
        return decode_json(raw, request=label)

    def parse_error(self, raw: RawResponse, *, request: str | None = None) -> BillAPIError | None:
        """The exception a raw answer stands for (None for a success)."""
        return parse_error(raw, request=request, environment=self.environment.name)

    def error_for(
        self, raw: RawResponse, *, label: str, secrets: Iterable[str] = (), per_minute: bool = False
    ) -> BillAPIError:
        """The exception for an error answer, with the environment named and secrets scrubbed.

        ``per_minute`` marks API-token calls, whose rate limit returns at the next minute.
        """
        now = self.sender.limits.clock()
        return build_error(
            raw,
            request=label,
            environment=self.environment.name,
            secrets=secrets,
            now=now,
            reset_at=next_minute(now) if per_minute else None,
        )

    # -- lists ---------------------------------------------------------------------------------

    def pages(
        self,
        path_or_family: str | ObjectFamily,
        *,
        auth: AnyAuth,
        max: int = 100,
        sort: Sorts | None = None,
        filters: Filters | None = None,
        page: str | None = None,
        priority: Priority = "live",
    ) -> AsyncIterator[Page]:
        """Iterate over the pages of a list, from ``page`` (a saved token) or the first.

        Args:
            path_or_family: a family name from ``FAMILIES`` (``"vendors"``) or a ``/v3/...`` path.
            auth: the session (or API token for ``/v3/spend/...``), or a flow providing it.
            max: records per page, 1..100.
            sort: sort keys (``Sort``), or BILL's text.
            filters: conditions (``Filter``), all of which must hold, or BILL's text.
            page: a ``next_page`` token saved from an earlier walk, to resume there.
            priority: ``"sync"`` for background work.

        Raises:
            ValidationError: at once, naming ``max``, if it is not an integer from 1 to 100.
        """
        list_params(max=max, sort=sort, filters=filters)
        path = list_path(path_or_family)

        async def fetch(query: list[tuple[str, str]]) -> Any:
            return await self.request("GET", path, auth=auth, params=query, priority=priority)

        return walk_pages(fetch, max=max, sort=sort, filters=filters, page=page, request=f"GET {path}")

    def iterate(
        self, path_or_family: str | ObjectFamily, **options: Unpack[ListOptions]
    ) -> AsyncIterator[dict[str, Any]]:
        """Iterate over every record of a list (arguments as for :meth:`pages`)."""
        return _records(self.pages(path_or_family, **options))

    # -- sessions and MFA (bodies and answers in ``session_calls``) ------------------------------

    login = session_calls.login
    logout = session_calls.logout
    session_info = session_calls.session_info
    mfa_setup = session_calls.mfa_setup
    mfa_setup_validate = session_calls.mfa_setup_validate
    mfa_challenge = session_calls.mfa_challenge
    mfa_challenge_validate = session_calls.mfa_challenge_validate
    mfa_step_up = session_calls.mfa_step_up


class RawOptions(TypedDict, total=False):
    """The keyword arguments of :meth:`BillClient.send` and :meth:`BillClient.stream`."""

    auth: Required[AnyAuth]
    params: Sequence[tuple[str, str]] | None
    headers: Mapping[str, str] | None
    content: Content
    retries: int
    api: Api
    priority: Priority


class ListOptions(TypedDict, total=False):
    """The keyword arguments of :meth:`BillClient.pages`, which :meth:`BillClient.iterate` passes on."""

    auth: Required[AnyAuth]
    max: int
    sort: Sorts | None
    filters: Filters | None
    page: str | None
    priority: Priority


async def _records(pages: AsyncIterator[Page]) -> AsyncIterator[dict[str, Any]]:
    async for page in pages:
        for record in page.results:
            yield record


__all__ = ["AnyAuth", "BillClient", "SessionAuth"]
