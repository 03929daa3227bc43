"""Checking ``Authorization: Bearer`` values: the API secret key and connect session tokens."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Awaitable, Callable

from billbridge.web.errors import ApiError

CONNECT_TOKEN = re.compile(r"^nango_connect_session_[0-9a-f]{64}$")
CONNECT_PREFIX = "nango_connect_session_"


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


class SecretKeyCheck:
    """Verifies API secret keys against the store, remembering good ones for ``ttl`` seconds.

    The store compares hashes in the database; the proxy's hot path cannot afford that on every
    request, so a key proven once is trusted for a short while in this process.
    """

    def __init__(
        self,
        verify: Callable[[str], Awaitable[bool]],
        *,
        on_verified: Callable[[str], None] | None = None,
        ttl: float = 60.0,
    ) -> None:
        self._verify = verify
        self._on_verified = on_verified
        self._ttl = ttl
        self._good: dict[bytes, float] = {}

    async def check(self, key: str) -> None:
        """Accept ``key`` or raise 401 ``unknown_account``."""
        digest = hashlib.sha256(key.encode()).digest()
        now = time.monotonic()
        until = self._good.get(digest)
        if until is not None and until > now:
            return
        if key.startswith(CONNECT_PREFIX) or not await self._verify(key):
            raise unauthorized(
                "unknown_account",
                "Authentication failed: the secret key is not valid. Use the key billbridge printed "
                "on its first start, or the one set in BILLBRIDGE_SECRET_KEY.",
            )
        if len(self._good) > 64:  # only a handful of keys exist; never let this grow
            self._good.clear()
        self._good[digest] = now + self._ttl
        if self._on_verified is not None:
            self._on_verified(key)


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
