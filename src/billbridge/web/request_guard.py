"""Checks made before any route runs: body size caps (413) and U+0000 in the URL (400).

Bodies are counted as they arrive, so a huge or endless body is refused after at most the cap,
whatever its ``Content-Length`` claims; nothing beyond the cap is ever held in memory.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billbridge.web.errors import PAYLOAD_TOO_LARGE, ApiError, issue

PROXY_PREFIX = "/proxy/"
# %00 in any case, or a raw NUL (which some clients send unencoded).
_NUL_IN_URL = re.compile(rb"%00|\x00")
_ASCII_NUMBER = re.compile(rb"[0-9]{1,18}")


class BodyTooLargeError(HTTPException):
    """The body passed the cap; raised from ``receive`` while a route reads it.

    An HTTPException, so that FastAPI's body parsing passes it on instead of turning it into 400.
    """

    def __init__(self, limit: int, *, setting: str) -> None:
        message = f"The request body is larger than {limit} bytes; send less (the limit is {setting})."
        super().__init__(413, message, headers={"Connection": "close"})

    def as_api_error(self) -> ApiError:
        """The envelope answer (413 ``payload_too_large``)."""
        return ApiError(413, PAYLOAD_TOO_LARGE, str(self.detail), headers=self.headers)


class RequestGuard:
    """ASGI middleware: caps the bodies of the API and Connect UI and refuses U+0000 in the path and
    query of every route that stores or queries strings (the proxy does neither: it caps its own
    bodies and passes paths through to BILL)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(PROXY_PREFIX):
            # The proxy caps its bodies as it relays them (``web.api.proxy_body``).
            await self.app(scope, receive, send)
            return
        limit, setting = self.max_body_bytes, "BILLBRIDGE_MAX_BODY_BYTES"
        refusal = _nul_refusal(scope)
        if refusal is not None:
            await _answer(send, refusal)
            return
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _answer(send, BodyTooLargeError(limit, setting=setting).as_api_error())
            return
        await self.app(scope, _capped(receive, limit, setting), send)


def _capped(receive: Receive, limit: int, setting: str) -> Receive:
    seen = 0

    async def capped_receive() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLargeError(limit, setting=setting)
        return message

    return capped_receive


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            # The server (h11, httptools) already refuses a malformed length; a huge one is capped.
            return int(value) if _ASCII_NUMBER.fullmatch(value.strip()) else None
    return None


def _nul_refusal(scope: Scope) -> ApiError | None:
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    message = "The URL may not contain the NUL character (U+0000 or %00); remove it."
    if _NUL_IN_URL.search(raw_path):
        return ApiError(400, "invalid_uri_params", message, errors=[issue(["path"], message)])
    if _NUL_IN_URL.search(scope.get("query_string", b"")):
        return ApiError(400, "invalid_query_params", message, errors=[issue(["query"], message)])
    return None


async def _answer(send: Send, error: ApiError) -> None:
    response = error.response()
    headers: list[tuple[bytes, bytes]] = list(response.raw_headers)
    start: dict[str, Any] = {"type": "http.response.start", "status": error.status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": bytes(response.body)})
