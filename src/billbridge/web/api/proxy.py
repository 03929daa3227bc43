"""``/proxy/{path}``: a raw ASGI endpoint (no per-request framework objects) in front of ``Proxy``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import structlog
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from billbridge.errors import BillbridgeError, NotFoundError
from billbridge.web.errors import ApiError, error_body, issue, response_for
from billbridge.web.keys import bearer
from billbridge.web.refresh import report_refresh_failure
from billbridge.web.services import Services

log = structlog.get_logger(__name__)

PREFIX = "/proxy"
_FORWARD = "nango-proxy-"
_RETRY_ON = re.compile(r"^\d{3}(,\d{3})*$")
_BOOLEAN = {"true", "false"}


@dataclass(slots=True)
class ProxyCall:
    """What one proxied request asks for, read straight from the ASGI scope."""

    authorization: str | None = None
    connection_id: str = ""
    provider_config_key: str = ""
    retries: int = 0
    base_url_override: str | None = None
    forward: dict[str, str] = field(default_factory=dict)


def read_headers(raw_headers: list[tuple[bytes, bytes]]) -> ProxyCall:
    """Split the request headers into billbridge's controls and the ones to forward.

    Raises:
        ApiError: 400 ``invalid_headers`` for a malformed control header.
    """
    call = ProxyCall()
    problems = []
    for raw_name, raw_value in raw_headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name.startswith(_FORWARD):
            call.forward[name[len(_FORWARD) :]] = value
        elif name == "authorization":
            call.authorization = value
        elif name == "connection-id":
            call.connection_id = value.strip()
        elif name == "provider-config-key":
            call.provider_config_key = value.strip()
        elif name == "content-type":
            call.forward.setdefault("content-type", value)
        elif name == "retries":
            if not value.strip().isdigit():
                problems.append(issue(["retries"], "Retries must be a whole number."))
            else:
                call.retries = int(value)
        elif name == "base-url-override":
            call.base_url_override = value.strip() or None
        elif name in {"decompress", "forward-headers-on-redirect"} and value.lower() not in _BOOLEAN:
            problems.append(issue([name], f"{name} must be true or false."))
        elif name == "retry-on" and value and not _RETRY_ON.match(value.replace(" ", "")):
            problems.append(issue([name], "Retry-On must be comma-separated status codes."))
    for header, attr in (("connection-id", "connection_id"), ("provider-config-key", "provider_config_key")):
        if not getattr(call, attr):
            problems.append(issue([header], f"The {header} header is required.", "invalid_type"))
    if call.base_url_override and not call.base_url_override.lower().startswith(("http://", "https://")):
        problems.append(issue(["base-url-override"], "Base-Url-Override must be an http(s) URL or empty."))
    if problems:
        raise ApiError(400, "invalid_headers", problems[0]["message"], errors=problems)
    return call


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send(
    send: Send, status: int, body: bytes, headers: list[tuple[str, str]] | Mapping[str, str]
) -> None:
    items = headers.items() if isinstance(headers, Mapping) else headers
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in items]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _reply_error(send: Send, exc: ApiError | BillbridgeError) -> None:
    if isinstance(exc, ApiError):
        body = error_body(exc.code, exc.message, errors=exc.errors, payload=exc.payload)
        await _send(send, exc.status, body, {"content-type": "application/json", **exc.headers})
        return
    response = response_for(exc)
    kept = [(k, v) for k, v in response.headers.items() if k != "content-length"]
    await _send(send, response.status_code, bytes(response.body), kept)


class ProxyEndpoint:
    """The ASGI app behind the route (a class, so Starlette passes scope/receive/send through)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward one request to BILL for the connection named in the headers."""
        services: Services = scope["app"].state.services
        try:
            await _proxy(services, scope, receive, send)
        except (ApiError, BillbridgeError) as exc:
            await _reply_error(send, exc)
        except Exception as exc:
            log.error("proxy_failed", error_type=type(exc).__name__)
            failure = ApiError(500, "server_error", "The proxy failed unexpectedly; it has been logged.")
            await _reply_error(send, failure)


async def _proxy(services: Services, scope: Scope, receive: Receive, send: Send) -> None:
    call = read_headers(scope["headers"])
    await services.secret_keys.check(bearer(call.authorization))
    if call.provider_config_key not in services.integrations:
        raise ApiError(
            404,
            "unknown_provider_config",
            f"No integration is configured under the key {call.provider_config_key!r}; "
            "use 'bill' or 'bill-sandbox'.",
        )
    try:
        conn = await services.keeper.lookup(call.connection_id, call.provider_config_key)
    except NotFoundError as exc:
        raise ApiError(400, "unknown_connection", exc.message) from None
    raw_path: bytes | None = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path is not None else scope["path"]
    query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    try:
        answer = await services.proxy.forward(
            conn,
            method=scope["method"],
            path=path[len(PREFIX) :],
            query=query,
            headers=call.forward,
            body=await _read_body(receive),
            retries=call.retries,
            base_url_override=call.base_url_override,
        )
    except BillbridgeError as exc:
        report_refresh_failure(services, conn, exc)
        raise
    await _send(send, answer.status, answer.body, answer.headers)


def proxy_routes() -> list[Route]:
    """The proxy's route (every method), for the app's router."""
    return [Route(PREFIX + "/{path:path}", endpoint=ProxyEndpoint())]
