"""``/proxy/{path}``: a raw ASGI endpoint (no per-request framework objects) in front of ``Proxy``.

It is the hot path of the whole service, so a plain proxied request (no ``Origin`` header: no CORS
to answer) skips the framework and its middleware altogether (:func:`is_plain_proxied`): the
endpoint answers every error itself, caps the body itself (``proxy_body``), and counts itself in
the metrics.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import structlog
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from billbridge.bill.transport import StreamedResponse
from billbridge.connections.idempotency import IDEMPOTENT_METHODS, check_key
from billbridge.errors import BillbridgeError, NotFoundError
from billbridge.runtime import Runtime
from billbridge.store import Connection
from billbridge.web.api.proxy_body import CallerGoneError, Upload, read_body, read_whole
from billbridge.web.api.proxy_idempotent import proxy_once
from billbridge.web.error_boundary import unexpected_failure
from billbridge.web.errors import ApiError, error_body, issue, response_for
from billbridge.web.keys import bearer, check_secret_key
from billbridge.web.request_guard import BodyTooLargeError
from billbridge.web.validation import is_ascii_number

log = structlog.get_logger(__name__)

PREFIX = "/proxy"
_FORWARD = b"nango-proxy-"
UNKNOWN_CONNECTION = "unknown_connection"
# The request headers billbridge reads itself; any other is neither decoded nor forwarded.
_CONTROLS = frozenset(
    {
        b"authorization",
        b"connection-id",
        b"provider-config-key",
        b"content-type",
        b"retries",
        b"base-url-override",
        b"decompress",
        b"forward-headers-on-redirect",
        b"retry-on",
        b"idempotency-key",
        b"content-length",
    }
)
# BILL's v3 API uses these five (developer.bill.com/docs/why-upgrade-v3); TRACE would echo the
# injected devKey and sessionId, and nothing documents HEAD or OPTIONS.
ALLOWED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_ALLOW = ", ".join(sorted(ALLOWED_METHODS))
_RETRY_ON = re.compile(r"^[0-9]{3}(,[0-9]{3})*$")
# Nango's Node client prefixes every caller header with Nango-Proxy-: the key may come that way too.
_FORWARDED_KEY = "idempotency-key"
_BOOLEAN = {"true", "false"}


@dataclass(slots=True)
class ProxyCall:
    """What one proxied request asks for, read straight from the ASGI scope."""

    authorization: str | None = None
    connection_id: str = ""
    provider_config_key: str = ""
    retries: int = 0
    base_url_override: str | None = None
    idempotency_key: str | None = None
    content_length: int | None = None
    forward: dict[str, str] = field(default_factory=dict)


def read_headers(raw_headers: list[tuple[bytes, bytes]]) -> ProxyCall:
    """Split the request headers into billbridge's controls and the ones to forward.

    Raises:
        ApiError: 400 ``invalid_headers`` for a malformed control header.
    """
    call = ProxyCall()
    problems = []
    for raw_name, raw_value in raw_headers:
        lowered = raw_name.lower()
        if lowered.startswith(_FORWARD):
            forwarded = lowered[len(_FORWARD) :].decode("latin-1")
            if not forwarded:
                problems.append(issue(["Nango-Proxy-"], "Nango-Proxy- must be followed by a header name."))
            else:
                call.forward[forwarded] = raw_value.decode("latin-1")
            continue
        if lowered not in _CONTROLS:
            continue
        name = lowered.decode("latin-1")
        value = raw_value.decode("latin-1")
        if name == "authorization":
            call.authorization = value
        elif name == "connection-id":
            call.connection_id = value.strip()
        elif name == "provider-config-key":
            call.provider_config_key = value.strip()
        elif name == "content-type":
            call.forward.setdefault("content-type", value)
        elif name == "retries":
            if not is_ascii_number(value.strip()):
                problems.append(issue(["retries"], "Retries must be a whole number in ASCII digits."))
            else:
                call.retries = int(value)
        elif name == "base-url-override":
            call.base_url_override = value.strip() or None
        elif name in {"decompress", "forward-headers-on-redirect"} and value.lower() not in _BOOLEAN:
            problems.append(issue([name], f"{name} must be true or false."))
        elif name == "retry-on" and value and not _RETRY_ON.match(value.replace(" ", "")):
            problems.append(issue([name], "Retry-On must be comma-separated status codes."))
        elif name == "idempotency-key":
            call.idempotency_key = value
        elif name == "content-length":
            # The HTTP server already refused a malformed one; the body's own length decides anyway.
            call.content_length = int(value) if is_ascii_number(value.strip()) else None
    # Never forwarded: BILL knows no such header, billbridge honours it.
    prefixed_key = call.forward.pop(_FORWARDED_KEY, None)
    if call.idempotency_key is None:
        call.idempotency_key = prefixed_key
    if call.idempotency_key is not None and (problem := check_key(call.idempotency_key)) is not None:
        problems.append(issue(["Idempotency-Key"], problem))
    for header, attr in (("connection-id", "connection_id"), ("provider-config-key", "provider_config_key")):
        if not getattr(call, attr):
            problems.append(issue([header], f"The {header} header is required.", "invalid_type"))
    if call.base_url_override and not call.base_url_override.lower().startswith(("http://", "https://")):
        problems.append(issue(["base-url-override"], "Base-Url-Override must be an http(s) URL or empty."))
    if problems:
        raise ApiError(400, "invalid_headers", problems[0]["message"], errors=problems)
    return call


def query_pairs(query: str) -> list[tuple[str, str]]:
    """The query's pairs in order, blank values kept (``parse_qsl``, without its per-piece
    decoding work when there is nothing to decode, which is the usual case)."""
    if "%" in query or "+" in query:
        return parse_qsl(query, keep_blank_values=True)
    return [(name, value) for name, _, value in (piece.partition("=") for piece in query.split("&") if piece)]


async def _send(send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]]) -> None:
    raw = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _encoded(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


async def _reply_error(send: Send, exc: ApiError | BillbridgeError) -> None:
    if isinstance(exc, ApiError):
        body = error_body(exc.code, exc.message, errors=exc.errors, payload=exc.payload)
        headers = {"content-type": "application/json", **exc.headers}
        await _send(send, exc.status, body, _encoded(headers.items()))
        return
    response = response_for(exc)
    kept = [(k, v) for k, v in response.headers.items() if k != "content-length"]
    await _send(send, response.status_code, bytes(response.body), _encoded(kept))


class _StatusWatch:
    """Passes ASGI messages on and notes the status the answer started with (for the metrics)."""

    __slots__ = ("send", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status: int | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)


class ProxyEndpoint:
    """The ASGI app behind the route (a class, so Starlette passes scope/receive/send through)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward one request to BILL for the connection named in the headers."""
        services: Runtime = scope["app"].state.runtime
        started = time.perf_counter()
        watch = _StatusWatch(send)
        try:
            await _proxy(services, scope, receive, watch)
        except (ApiError, BillbridgeError) as exc:
            await _reply_error(watch, exc)
        except BodyTooLargeError as exc:
            await _reply_error(watch, exc.as_api_error())
        except CallerGoneError:
            pass  # nobody to answer; nothing was sent to BILL
        except Exception as exc:
            await _reply_error(watch, unexpected_failure(exc, where="proxy"))
        finally:
            services.metrics.proxied(watch.status, started)


async def _proxy(services: Runtime, scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] not in ALLOWED_METHODS:
        raise ApiError(
            405,
            "method_not_allowed",
            f"The proxy forwards {_ALLOW} only, the methods of BILL's API.",
            headers={"Allow": _ALLOW},
        )
    call = read_headers(scope["headers"])
    await check_secret_key(services.secret_keys, bearer(call.authorization))
    if call.provider_config_key not in services.integrations:
        raise ApiError(
            404,
            "unknown_provider_config",
            f"No integration is configured under the key {call.provider_config_key!r}; "
            "use 'bill' or 'bill-sandbox'.",
        )
    try:
        conn = await services.keeper.lookup(call.connection_id, call.provider_config_key)
    except NotFoundError:
        raise ApiError(400, UNKNOWN_CONNECTION, _unknown(call)) from None
    try:
        await _forward(services, call, conn, scope, receive, send)
    except NotFoundError as exc:
        if exc.code != UNKNOWN_CONNECTION:
            raise
        # Deleted by another process while this one still had it cached.
        services.keeper.forget(conn.pk)
        raise ApiError(400, UNKNOWN_CONNECTION, _unknown(call)) from None


async def _forward(
    services: Runtime, call: ProxyCall, conn: Connection, scope: Scope, receive: Receive, send: Send
) -> None:
    raw_path: bytes | None = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path is not None else scope["path"]
    query = query_pairs(scope["query_string"].decode("latin-1"))
    method: str = scope["method"]
    limit = services.settings.proxy_max_body_bytes
    if call.idempotency_key is not None and method in IDEMPOTENT_METHODS:
        whole = await read_whole(receive, limit, call.content_length)
        await proxy_once(
            services.idempotency,
            services.proxy,
            conn,
            send,
            key=call.idempotency_key,
            method=method,
            path=path[len(PREFIX) :],
            query=query,
            headers=call.forward,
            body=whole,
            retries=call.retries,
            base_url_override=call.base_url_override,
        )
        return
    body = await read_body(receive, limit, call.content_length)
    try:
        async with services.proxy.open(
            conn,
            method=method,
            path=path[len(PREFIX) :],
            query=query,
            headers=call.forward,
            body=body.body if isinstance(body, Upload) else body,
            retries=call.retries,
            base_url_override=call.base_url_override,
        ) as answer:
            if isinstance(body, Upload) and body.failure is not None:
                raise body.failure  # BILL answered a request it never got whole
            if answer.body is not None:
                await _send(send, answer.status, answer.body, answer.raw_headers)
            else:
                await _stream(send, receive, answer)
    except Exception:
        # An upload cut short (too large, or the caller left) aborts the request to BILL; however
        # the transport reports that, the reason is the upload's.
        if isinstance(body, Upload) and body.failure is not None:
            raise body.failure from None
        raise


async def _stream(send: Send, receive: Receive, answer: StreamedResponse) -> None:
    """Relay a body still arriving from BILL, chunk by chunk, until it ends or the caller leaves.

    The response has started, so a failure can no longer become an error answer: the response is
    left incomplete and the server closes the connection, which tells the caller the body broke.
    """
    raw = list(answer.raw_headers)
    if answer.length is not None:
        raw.append((b"content-length", str(answer.length).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": raw})
    relay = asyncio.ensure_future(_relay(send, answer))
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((relay, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        relay.cancel()
        # The relay stops before the caller's block hands BILL's connection back.
        await asyncio.wait((relay,))
    if gone.done() and not gone.cancelled():
        gone.exception()  # retrieved, so that a failed receive is not reported later
    failure = None if relay.cancelled() else relay.exception()
    if isinstance(failure, OSError):
        return  # the caller left (ASGI servers that report it on send)
    if failure is not None:
        log.warning("proxy_stream_broken", error_type=type(failure).__name__)


async def _relay(send: Send, answer: StreamedResponse) -> None:
    while chunk := await answer.next_chunk():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    # The request body has been read, so the next message is the caller's disconnect (some servers
    # also send it once the response is complete, which is harmless here).
    while (await receive())["type"] != "http.disconnect":
        pass


def _unknown(call: ProxyCall) -> str:
    return (
        f"No connection {call.connection_id!r} exists for the integration "
        f"{call.provider_config_key!r}; it may have been deleted."
    )


ENDPOINT = ProxyEndpoint()


def proxy_routes() -> list[Route]:
    """The proxy's route (every method), for the app's router."""
    return [Route(PREFIX + "/{path:path}", endpoint=ENDPOINT)]


_PREFIX_SLASH = PREFIX + "/"


def is_plain_proxied(scope: Scope) -> bool:
    """Whether the app may hand this request straight to the proxy endpoint, past the framework
    and its middleware: a ``/proxy/...`` request without ``Origin`` (one with it goes through the
    app for CORS). The endpoint does what the middleware would: it answers every error with the
    envelope, caps the body and counts itself in the metrics."""
    if scope["type"] != "http" or not scope["path"].startswith(_PREFIX_SLASH):
        return False
    # ASGI servers hand header names over in lower case; a plain loop, not any(): the hot path.
    for name, _ in scope["headers"]:  # noqa: SIM110
        if name == b"origin":
            return False
    return True
