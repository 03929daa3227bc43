"""The last line of defence: an unexpected exception becomes a 500 envelope and one log line.

The log line names the exception's type and a request id, never its message: a database error's
message can quote the statement's values (end users' names, e-mail addresses). Nothing propagates
to the HTTP server, whose own traceback would print that message.
"""

from __future__ import annotations

import secrets

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billbridge.web.errors import ApiError, is_database_busy

log = structlog.get_logger(__name__)


def new_request_id() -> str:
    """A short random id that ties an answer to its log line."""
    return secrets.token_hex(8)


def unexpected_failure(exc: BaseException, *, where: str) -> ApiError:
    """Log ``exc`` by type and a new request id; the 500 answer that quotes the id.

    A database still locked after its busy timeout is no fault of the server: 503 with
    ``Retry-After`` instead.
    """
    request_id = new_request_id()
    if is_database_busy(exc):
        log.warning("database_busy", where=where, request_id=request_id)
        return ApiError(
            503,
            "database_busy",
            f"The database is busy; try again in a moment (request id {request_id}).",
            headers={"Retry-After": "1", "X-Request-Id": request_id},
        )
    log.error("unexpected_error", where=where, error_type=type(exc).__name__, request_id=request_id)
    return ApiError(
        500,
        "server_error",
        f"An unexpected error occurred; it has been logged with request id {request_id}.",
        headers={"X-Request-Id": request_id},
    )


class ErrorBoundary:
    """ASGI middleware: answers 500 for any exception the routes let through (if still possible)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            failure = unexpected_failure(exc, where=scope["path"].split("/", 2)[1] or "/")
            if started:
                return  # the answer is under way: the server ends it, the log line says why
            response = failure.response()
            start = {"type": "http.response.start", "status": response.status_code}
            await send({**start, "headers": list(response.raw_headers)})
            await send({"type": "http.response.body", "body": bytes(response.body)})
