"""Checking ``Authorization: Bearer`` values: the API secret key and connect session tokens."""

from __future__ import annotations

import re

from billbridge.connections import SecretKeys
from billbridge.web.errors import ApiError

CONNECT_TOKEN = re.compile(r"^nango_connect_session_[0-9a-f]{64}$")


def bearer(header: str | None) -> str:
    """The credential of an ``Authorization: Bearer <value>`` header.

    Raises:
        ApiError: 401 ``missing_auth_header`` or ``malformed_auth_header``.
    """
    if not header:
        raise unauthorized(
            "missing_auth_header",
            "Authentication failed: send the secret key as 'Authorization: Bearer <secret key>'.",
        )
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise unauthorized(
            "malformed_auth_header",
            "Authentication failed: the Authorization header must read 'Bearer <secret key>'.",
        )
    return value


def unauthorized(code: str, message: str) -> ApiError:
    """A 401 in Nango's shape (``payload: {}``)."""
    return ApiError(401, code, message, payload={})


async def check_secret_key(keys: SecretKeys, key: str) -> None:
    """Accept ``key`` or raise 401 ``unknown_account``."""
    if not await keys.is_valid(key):
        raise unauthorized(
            "unknown_account",
            "Authentication failed: the secret key is not valid. Use the key billbridge printed "
            "on its first start, or the one set in BILLBRIDGE_SECRET_KEY.",
        )


def check_connect_token_format(token: str) -> None:
    """Raise 401 ``invalid_connect_session_token_format`` unless ``token`` looks like one."""
    if not CONNECT_TOKEN.match(token):
        raise unauthorized(
            "invalid_connect_session_token_format",
            "The connect session token is malformed; use the token POST /connect/sessions returned.",
        )


def unknown_connect_token() -> ApiError:
    """The 401 for an unknown or expired connect session token."""
    return unauthorized(
        "unknown_connect_session_token",
        "The connect session token is unknown or has expired (they last 30 minutes); "
        "ask the application for a new link.",
    )
