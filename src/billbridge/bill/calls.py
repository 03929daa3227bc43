"""Generic BILL calls: ``request`` (JSON in, JSON out, errors raised), ``send`` and ``stream`` (raw,
for the proxy), and the list walkers ``pages`` and ``iterate``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, Required, TypedDict, Unpack

import orjson

from billbridge.bill.answers import decode_json, parse_error
from billbridge.bill.auth import ApiTokenAuth, Auth
from billbridge.bill.exchange import Api, Outgoing, encode_query
from billbridge.bill.objects import ObjectFamily, family
from billbridge.bill.pagination import Page, walk_pages
from billbridge.bill.query import Filters, Sorts, list_params
from billbridge.bill.retry import is_replay_safe
from billbridge.bill.streaming import StreamingCore
from billbridge.bill.transport import RawResponse, StreamedResponse
from billbridge.errors import BillAPIError, ValidationError

Params = Mapping[str, Any] | Sequence[tuple[str, str]]

# Headers only the client may set: a caller's copy could carry another tenant's credentials.
_AUTH_HEADERS: Final = frozenset({"devkey", "sessionid", "apitoken"})


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pairs(params: Params) -> list[tuple[str, str]]:
    if isinstance(params, Mapping):
        return [(str(k), _param_text(v)) for k, v in params.items() if v is not None]
    return [(str(k), _param_text(v)) for k, v in params]


def _check_auth(path: str, auth: Auth, api: Api) -> None:
    if api != "connect":
        return  # Connect Events take either kind of auth.
    is_spend = path.startswith("/v3/spend/") or path == "/v3/spend"
    if is_spend and not isinstance(auth, ApiTokenAuth):
        raise ValidationError(
            "Spend & Expense paths (/v3/spend/...) are called with an ApiTokenAuth", field="auth"
        )
    if not is_spend and isinstance(auth, ApiTokenAuth):
        raise ValidationError(
            "an ApiTokenAuth only works for Spend & Expense paths (/v3/spend/...)", field="auth"
        )


def list_path(path_or_family: str | ObjectFamily) -> str:
    """The list path of a family (by name or object) or an explicit ``/v3/...`` path."""
    if isinstance(path_or_family, ObjectFamily):
        return path_or_family.path
    if path_or_family.startswith("/"):
        return path_or_family
    return family(path_or_family).path


class ApiCalls(StreamingCore):
    """The generic calls every BILL endpoint can be reached with."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        auth: Auth,
        params: Params | None = None,
        json: Any = None,
        api: Api = "connect",
        replay_safe: bool | None = None,
        redact: Sequence[str] = (),
    ) -> Any:
        """Call BILL and return its decoded JSON (None for an empty answer).

        Args:
            method: the HTTP method.
            path: the API path, e.g. ``/v3/vendors`` (``/v3/spend/...`` needs an ApiTokenAuth).
            auth: the session or API token to call with.
            params: query parameters.
            json: the JSON body, if any.
            api: ``"events"`` for the Connect Events (webhook subscription) API.
            replay_safe: whether the call may be repeated after BILL may have processed it;
                default: decided from method and path (creating POSTs are not).
            redact: further secrets (e.g. sent in the body) to scrub from error texts.

        Raises:
            BillAPIError: the subclass for BILL's error code (see ``codes.CODES``).
            BillTransportError: BILL did not answer, after the allowed retries.
            ValidationError: a malformed path or an auth that does not fit the path.
        """
        method = method.upper()
        _check_auth(path, auth, api)
        url = self.url(path, encode_query(_pairs(params)) if params else "", api=api)
        headers = {**auth.headers, "Accept": "application/json"}
        content = None
        if json is not None:
            content = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        label = f"{method} {path}"
        raw = await self.exchange(
            method,
            url,
            label=label,
            headers=headers,
            content=content,
            limit_key=auth.limit_key,
            retries=self.max_retries,
            replay_safe=is_replay_safe(method, path) if replay_safe is None else replay_safe,
        )
        if raw.status >= 400:
            raise self.error_for(
                raw,
                label=label,
                secrets=(*auth.secrets(), *redact),
                per_minute=auth.limit_key is None,
            )
        return decode_json(raw, request=label)

    async def send(
        self,
        method: str,
        path: str,
        *,
        auth: Auth,
        params: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        retries: int = 0,
        api: Api = "connect",
    ) -> RawResponse:
        """Forward one request as bytes and return BILL's answer as bytes, whatever its status.

        The proxy's primitive: auth headers are set here (a caller's ``devKey``, ``sessionId``
        or ``apiToken`` header is dropped), the limits are held, and up to ``retries`` retries
        are made where safe. Use :meth:`parse_error` to turn an error answer into its class.
        ``path`` is the decoded path: it is percent-encoded here.

        Raises:
            BillTransportError: BILL did not answer.
            RateLimitError: the local hourly budget is spent (nothing was sent).
            ValidationError: a malformed path or an auth that does not fit the path.
        """
        outgoing = self._outgoing(
            method, path, auth=auth, params=params, headers=headers, content=content, retries=retries, api=api
        )
        return await self.exchange(**outgoing)

    def stream(
        self,
        method: str,
        path: str,
        *,
        auth: Auth,
        params: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        retries: int = 0,
        api: Api = "connect",
    ) -> AbstractAsyncContextManager[StreamedResponse]:
        """:meth:`send`, with a successful answer's body streamed rather than read whole.

        ``async with client.stream(...) as answer:`` yields once BILL's headers are in. Error
        answers come read whole (``answer.body``), so :meth:`parse_error` works on
        ``answer.raw()``; a success may still be arriving (``answer.next_chunk()``). The
        in-flight slot is held until the block ends. Raises as :meth:`send` does.
        """
        outgoing = self._outgoing(
            method, path, auth=auth, params=params, headers=headers, content=content, retries=retries, api=api
        )
        return self.exchange_stream(outgoing)

    def _outgoing(
        self,
        method: str,
        path: str,
        *,
        auth: Auth,
        params: Sequence[tuple[str, str]] | None,
        headers: Mapping[str, str] | None,
        content: bytes | None,
        retries: int,
        api: Api,
    ) -> Outgoing:
        """What :meth:`send` and :meth:`stream` hand to the exchange, checked and with auth set."""
        method = method.upper()
        _check_auth(path, auth, api)
        merged = {k: v for k, v in headers.items() if k.lower() not in _AUTH_HEADERS} if headers else {}
        merged.update(auth.headers)
        return {
            "method": method,
            "url": self.url(path, encode_query(params) if params else "", api=api),
            "label": f"{method} {path}",
            "headers": merged,
            "content": content,
            "limit_key": auth.limit_key,
            "retries": retries,
            "replay_safe": is_replay_safe(method, path),
        }

    def parse_error(self, raw: RawResponse, *, request: str | None = None) -> BillAPIError | None:
        """The exception a raw answer stands for (None for a success)."""
        return parse_error(raw, request=request, environment=self.environment.name)

    def pages(
        self,
        path_or_family: str | ObjectFamily,
        *,
        auth: Auth,
        max: int = 100,
        sort: Sorts | None = None,
        filters: Filters | None = None,
        page: str | None = None,
    ) -> AsyncIterator[Page]:
        """Iterate over the pages of a list, from ``page`` (a saved token) or the first.

        Args:
            path_or_family: a family name from ``FAMILIES`` (``"vendors"``) or a ``/v3/...`` path.
            auth: the session (or API token for ``/v3/spend/...``).
            max: records per page, 1..100.
            sort: sort keys (``Sort``), or BILL's text.
            filters: conditions (``Filter``), all of which must hold, or BILL's text.
            page: a ``next_page`` token saved from an earlier walk, to resume there.

        Raises:
            ValidationError: at once, naming ``max``, if it is not an integer from 1 to 100.
        """
        list_params(max=max, sort=sort, filters=filters)
        path = list_path(path_or_family)

        async def fetch(query: list[tuple[str, str]]) -> Any:
            return await self.request("GET", path, auth=auth, params=query)

        return walk_pages(fetch, max=max, sort=sort, filters=filters, page=page, request=f"GET {path}")

    def iterate(
        self, path_or_family: str | ObjectFamily, **options: Unpack[ListOptions]
    ) -> AsyncIterator[dict[str, Any]]:
        """Iterate over every record of a list (arguments as for :meth:`pages`)."""
        return _records(self.pages(path_or_family, **options))


class ListOptions(TypedDict, total=False):
    """The keyword arguments of :meth:`ApiCalls.pages`, which :meth:`ApiCalls.iterate` passes on."""

    auth: Required[Auth]
    max: int
    sort: Sorts | None
    filters: Filters | None
    page: str | None


async def _records(pages: AsyncIterator[Page]) -> AsyncIterator[dict[str, Any]]:
    async for page in pages:
        for record in page.results:
            yield record
