"""When a failed call may be tried again, and how long to wait first (pure functions; the
sender's tenacity loop asks them).

Retried: 5xx and BILL's server codes, timeouts and lost connections, and ``BDC_1322`` (too many
requests in flight) with capped, jittered exponential backoff, as BILL recommends
(https://developer.bill.com/docs/api-rate-limits). Never retried: credential, developer-key and
MFA refusals. A POST that creates something is replayed only when BILL certainly did not process
it (no connection was made, or BILL refused it with ``BDC_1322``), so nothing is created twice.
``BDC_1144`` is not backoff material: the hourly budget only returns at the top of the hour.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from billbridge.bill.codes import code_info
from billbridge.bill.transport import NOT_SENT
from billbridge.errors import BillTransportError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff shape: ``base_delay * 2**attempt`` seconds, capped at ``max_delay``, jittered."""

    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0)."""
        fraction = (rng or random).random()
        return add_jitter(backoff_delay(attempt, base=self.base_delay, cap=self.max_delay), fraction)


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Exponential delay before jitter: ``base * 2**attempt``, never above ``cap``."""
    if attempt < 0:
        raise ValueError("attempt counts from 0")
    # min() before the power would overflow for absurd attempt numbers.
    return min(cap, base * 2.0 ** min(attempt, 62))


def add_jitter(delay: float, fraction: float) -> float:
    """Spread ``delay`` over ``[delay / 2, delay]`` by ``fraction`` in ``[0, 1]``.

    Randomness stays outside so tests can pin it; half the delay is kept so that clients
    retrying together still back off.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must lie in [0, 1]")
    return delay * (0.5 + 0.5 * fraction)


_IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
# POSTs whose repetition changes nothing more than the first did (BILL documents archive and
# restore as no-ops when repeated; a second login only opens another session).
_REPLAY_SAFE_POSTS: Final = frozenset({"/v3/login", "/v3/logout", "/v3/mfa/step-up"})
_REPLAY_SAFE_POST_SUFFIXES: Final = ("/archive", "/restore")


def is_replay_safe(method: str, path: str) -> bool:
    """Whether sending this request twice has the same effect as sending it once.

    Args:
        method: the HTTP method.
        path: the API path such as ``/v3/vendors/009.../archive`` (without query).
    """
    method = method.upper()
    if method in _IDEMPOTENT_METHODS:
        return True
    if method != "POST":
        return False
    path = path.rstrip("/")
    return path in _REPLAY_SAFE_POSTS or path.endswith(_REPLAY_SAFE_POST_SUFFIXES)


def should_retry_answer(*, status: int, code: str | None, replay_safe: bool) -> bool:
    """Whether an error answer from BILL is worth another try.

    Args:
        status: the HTTP status of the answer (400 or above).
        code: its first ``BDC_`` code, if any; it decides over the status.
        replay_safe: whether the request may be sent again even if BILL processed it.
    """
    info = code_info(code, status)
    if not info.retryable:
        return False
    return replay_safe or info.unprocessed


def should_retry_failure(error: BillTransportError, *, replay_safe: bool) -> bool:
    """Whether a request that got no answer may be sent again.

    A connection that was never made proves BILL did nothing; after a timeout or a dropped
    connection BILL may have acted, so only replay-safe requests are repeated.
    """
    return error.code == NOT_SENT or replay_safe
