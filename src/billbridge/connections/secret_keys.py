"""Which API secret keys are valid, remembered briefly so the proxy's hot path skips the database."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable

# Connect session tokens are never secret keys, even if a hash were to match.
CONNECT_PREFIX = "nango_connect_session_"


class SecretKeys:
    """Verifies API secret keys against the store, remembering good ones for ``ttl`` seconds.

    The store compares hashes in the database; the proxy cannot afford that on every request, so
    a key proven once is trusted for a short while in this process.

    Args:
        verify: the store's check of one key.
        on_verified: told each key just proven (the webhook signing key learns it).
        ttl: seconds a proven key is trusted without asking the store.
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

    async def is_valid(self, key: str) -> bool:
        """Whether ``key`` is a secret key of this deployment."""
        digest = hashlib.sha256(key.encode()).digest()
        now = time.monotonic()
        until = self._good.get(digest)
        if until is not None and until > now:
            return True
        if key.startswith(CONNECT_PREFIX) or not await self._verify(key):
            return False
        if len(self._good) > 64:  # only a handful of keys exist; never let this grow
            self._good.clear()
        self._good[digest] = now + self._ttl
        if self._on_verified is not None:
            self._on_verified(key)
        return True

    def __repr__(self) -> str:
        return f"SecretKeys(remembered={len(self._good)})"
