"""When a BILL session may be reused, and what a failed login means for the next one."""

from __future__ import annotations

import enum
from datetime import timedelta

from billbridge.bill import needs_relink
from billbridge.errors import AccountLockedError, BillAPIError, RateLimitError

# BILL ends a session after 35 idle minutes; any call resets the timer (bill-api.md §2).
IDLE_TIMEOUT = timedelta(minutes=35)
# Re-login a little early: clocks drift and a request may take a while to reach BILL.
SAFETY_MARGIN = timedelta(minutes=3)
REUSE_WINDOW = IDLE_TIMEOUT - SAFETY_MARGIN
# Use is written to the database at most this often per connection; a stale record only ever
# makes another process re-login early, never late.
USE_RECORD_INTERVAL = timedelta(minutes=1)

# A login runs under the login lock (on SQLite a database-wide write lock), so the client's own
# retries of a hanging BILL are cut short here; the failure then cools down like any other.
LOGIN_DEADLINE_SECONDS = 45.0

COOLDOWN_BASE = timedelta(seconds=30)
COOLDOWN_CAP = timedelta(minutes=15)


class LoginOutcome(enum.Enum):
    """How a failed login affects the connection."""

    REJECTED = "rejected"  # credentials refused: mark invalid_credentials, no more logins
    BUDGET = "budget"  # hourly budget spent: wait for BILL's reset, no cooldown recorded
    TRANSIENT = "transient"  # BILL unreachable, failing or busy: cool down, then try again


def classify_login_error(exc: Exception) -> LoginOutcome:
    """Sort an exception raised by a login into what the keeper does next."""
    if isinstance(exc, RateLimitError):
        return LoginOutcome.BUDGET
    if isinstance(exc, BillAPIError) and needs_relink(exc.code):
        return LoginOutcome.REJECTED
    return LoginOutcome.TRANSIENT


def cooldown_for(exc: Exception, failures: int) -> timedelta:
    """How long to wait after the ``failures``-th transient login failure in a row.

    Exponential (30 s, 60 s, 120 s, ...) and capped at 15 minutes. A locked account starts at the
    cap: retrying sooner would only keep it locked.
    """
    if isinstance(exc, AccountLockedError):
        return COOLDOWN_CAP
    exponent = max(0, min(failures - 1, 16))
    return min(COOLDOWN_BASE * float(2**exponent), COOLDOWN_CAP)
