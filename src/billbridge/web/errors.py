"""The ``{error:{code, message, errors?, payload?}}`` envelope and the exception handlers that emit it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from billbridge.connections import LINK_TIMEOUT, UNREACHABLE, LinkInputError, LinkRefusedError
from billbridge.connections.idempotency import IdempotencyError
from billbridge.errors import (
    BillAPIError,
    BillbridgeError,
    BillTransportError,
    ConcurrencyLimitError,
    ConfigurationError,
    ConnectionStateError,
    LoginCooldownError,
    NotFoundError,
    RateLimitError,
    StoreError,
    UntrustedSessionError,
    ValidationError,
)

log = structlog.get_logger(__name__)

Issue = Mapping[str, Any]
PAYLOAD_TOO_LARGE = "payload_too_large"


class ApiError(Exception):
    """An HTTP answer decided by a route: status, code, message and optional issues."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str | None = None,
        *,
        errors: Sequence[Issue] | None = None,
        payload: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message or code)
        self.status = status
        self.code = code
        self.errors = list(errors) if errors is not None else None
        # Nango often leaves validation errors without a message; ours always say what is wrong.
        self.message = message or summarize(self.errors)
        self.payload = payload
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"ApiError(status={self.status}, code={self.code!r})"

    def response(self) -> Response:
        """This answer as a JSON response carrying the envelope."""
        return Response(
            error_body(self.code, self.message, errors=self.errors, payload=self.payload),
            status_code=self.status,
            media_type="application/json",
            headers=self.headers,
        )


def summarize(errors: Sequence[Issue] | None) -> str | None:
    """One sentence out of the first few issues (``where: what``), or None without issues."""
    if not errors:
        return None
    parts = []
    for item in errors[:5]:
        where = ".".join(str(p) for p in item.get("path", ())) or "request"
        parts.append(f"{where}: {item.get('message', 'invalid')}")
    return "; ".join(parts) + "."


def issue(path: Sequence[str | int], message: str, code: str = "invalid_string") -> dict[str, Any]:
    """One entry of ``errors``: Nango's ``{code, message, path}``."""
    return {"code": code, "message": message, "path": list(path)}


def error_body(
    code: str,
    message: str | None = None,
    *,
    errors: Sequence[Issue] | None = None,
    payload: Mapping[str, Any] | None = None,
) -> bytes:
    """The encoded envelope."""
    inner: dict[str, Any] = {"code": code}
    if message is not None:
        inner["message"] = message
    if errors is not None:
        inner["errors"] = list(errors)
    if payload is not None:
        inner["payload"] = dict(payload)
    return orjson.dumps({"error": inner})


def retry_after(reset_at: datetime) -> str:
    """Whole seconds until ``reset_at`` (at least 1), for ``Retry-After``."""
    seconds = (reset_at - datetime.now(UTC)).total_seconds()
    return str(max(1, math.ceil(seconds)))


# The status billbridge answers with, by error class; the most specific class of an error wins.
REPLY_STATUS: Final[Mapping[type[BillbridgeError], int]] = MappingProxyType(
    {
        ValidationError: 400,
        LinkRefusedError: 400,
        IdempotencyError: 409,
        NotFoundError: 404,
        ConnectionStateError: 424,  # the connection must be re-linked, or wait for its cooldown
        UntrustedSessionError: 403,
        RateLimitError: 429,
        ConcurrencyLimitError: 503,
        BillTransportError: 502,
        BillAPIError: 502,  # BILL refused what billbridge sent: a gateway error, not the caller's
        StoreError: 500,
        ConfigurationError: 500,
        BillbridgeError: 500,
    }
)
# A class's codes whose answer differs from the class's own.
CODE_STATUS: Final[Mapping[tuple[type[BillbridgeError], str], int]] = MappingProxyType(
    {
        (LinkRefusedError, UNREACHABLE): 502,  # Nango's bill_tokens_fetch_error: BILL failed
        (LinkRefusedError, LINK_TIMEOUT): 504,  # BILL did not answer a link's login in time
        (NotFoundError, "unknown_connect_session_token"): 401,  # it expired while linking
    }
)


def reply_status(exc: BillbridgeError) -> int:
    """The HTTP status of billbridge's answer to ``exc`` (never BILL's own status)."""
    for cls in type(exc).__mro__:
        status = CODE_STATUS.get((cls, exc.code)) or REPLY_STATUS.get(cls)
        if status is not None:
            return status
    return 500


def describe(exc: BillbridgeError) -> tuple[int, str, str, list[dict[str, Any]] | None, dict[str, str]]:
    """(status, code, message, errors, headers) for one of billbridge's own errors."""
    headers: dict[str, str] = {}
    errors: list[dict[str, Any]] | None = None
    if isinstance(exc, LinkInputError):
        errors = [issue([p.field], p.message, p.code) for p in exc.problems]
    elif isinstance(exc, LinkRefusedError) and exc.field:
        errors = [issue([exc.field], exc.message, exc.bill_code or exc.code)]
    elif isinstance(exc, ValidationError) and exc.field:
        errors = [issue([exc.field], exc.message)]
    if isinstance(exc, RateLimitError):
        headers["Retry-After"] = retry_after(exc.reset_at)
    elif isinstance(exc, LoginCooldownError):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    elif isinstance(exc, ConcurrencyLimitError):
        headers["Retry-After"] = "1"
    return reply_status(exc), exc.code, exc.message, errors, headers


def response_for(exc: BillbridgeError) -> Response:
    """The envelope response for a billbridge error (also used by the raw proxy route)."""
    status, code, message, errors, headers = describe(exc)
    if status >= 500:
        log.warning("request_failed", code=code, status=status, error=repr(exc))
    return ApiError(status, code, message, errors=errors, headers=headers).response()


def _validation_issues(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    where = {"body": "invalid_body", "query": "invalid_query_params", "path": "invalid_uri_params"}
    code = "invalid_body"
    issues = []
    for err in exc.errors():
        loc = [str(p) if not isinstance(p, int) else p for p in err.get("loc", ())]
        if loc and loc[0] in where:
            code = where[str(loc[0])]
            loc = loc[1:]
        issues.append(issue(loc, str(err.get("msg", "invalid")), str(err.get("type", "invalid"))))
    return code, issues


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts for this path.

    Starlette's 405 names only the methods of the first route whose path matched, while a path
    such as ``/connections/{id}`` is served by one route per method: each method is tried instead.
    """
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]


def is_database_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked" after its busy timeout: a moment's wait, not a server fault."""
    text = str(getattr(exc, "orig", "") or "")
    return isinstance(exc, OperationalError) and ("database is locked" in text or "database is busy" in text)


def install_exception_handlers(app: FastAPI) -> None:
    """Answer every error, ours and the framework's, with the envelope."""

    async def on_api_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def on_billbridge(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, BillbridgeError)
        return response_for(exc)

    async def on_request_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        code, issues = _validation_issues(exc)
        return ApiError(400, code, errors=issues).response()

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        codes = {404: "not_found", 405: "method_not_allowed", 413: PAYLOAD_TOO_LARGE}
        message = {404: "No such route.", 405: "This route does not accept that method."}.get(
            exc.status_code, str(exc.detail)
        )
        code = codes.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            message = f"This route accepts {', '.join(allowed)}."
        return ApiError(exc.status_code, code, message, headers=headers).response()

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(BillbridgeError, on_billbridge)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
