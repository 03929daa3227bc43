"""The one table of BILL error codes: which exception each raises, whether a retry can help.

BILL's v3 errors come as a JSON list of ``{timestamp, code, severity, category, message}``; the
``BDC_`` code, not the HTTP status, says what went wrong
(https://developer.bill.com/docs/common-api-error-codes). Statuses are only a fallback for codes
not in this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from billbridge.errors import (
    AccountLockedError,
    BadRequestError,
    BillAPIError,
    BillNotFoundError,
    BillServerError,
    ConcurrencyLimitError,
    FilterError,
    InvalidCredentialsError,
    InvalidDevKeyError,
    MfaError,
    RateLimitError,
    SessionExpiredError,
    UntrustedSessionError,
)

RATE_LIMITED: Final = "BDC_1144"
TOO_MANY_IN_FLIGHT: Final = "BDC_1322"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What one BDC code means for a caller.

    Attributes:
        error: the exception class raised for it.
        retryable: a later identical request may succeed (after backoff).
        unprocessed: BILL certainly did nothing, so even a creating POST may be replayed.
        meaning: a short paraphrase of BILL's documentation.
    """

    error: type[BillAPIError]
    retryable: bool
    unprocessed: bool
    meaning: str


def _info(
    error: type[BillAPIError], meaning: str, *, retryable: bool = False, unprocessed: bool = False
) -> CodeInfo:
    return CodeInfo(error=error, retryable=retryable, unprocessed=unprocessed, meaning=meaning)


CODES: Final = MappingProxyType(
    {
        "BDC_1001": _info(BillServerError, "system error", retryable=True),
        "BDC_1002": _info(BillServerError, "unknown error (often a malformed request)", retryable=True),
        "BDC_1101": _info(InvalidCredentialsError, "username or password not accepted"),
        "BDC_1102": _info(InvalidDevKeyError, "developer key not valid"),
        "BDC_1103": _info(InvalidDevKeyError, "developer key inactive"),
        "BDC_1107": _info(AccountLockedError, "organization locked out"),
        "BDC_1108": _info(BadRequestError, "a required parameter is missing"),
        "BDC_1109": _info(SessionExpiredError, "session invalid or expired; log in again"),
        "BDC_1110": _info(AccountLockedError, "login locked"),
        "BDC_1111": _info(AccountLockedError, "no active user for this login"),
        "BDC_1113": _info(BillAPIError, "login error"),
        "BDC_1120": _info(BillNotFoundError, "no data found"),
        "BDC_1121": _info(BillNotFoundError, "API not supported (wrong path or letter case)"),
        "BDC_1122": _info(BadRequestError, "the JSON body could not be parsed"),
        "BDC_1123": _info(BadRequestError, "invalid organization id"),
        "BDC_1129": _info(BadRequestError, "invalid parameter value"),
        "BDC_1130": _info(FilterError, "invalid list filter field"),
        "BDC_1131": _info(FilterError, "invalid list filter operator"),
        # Handled apart from backoff: nothing is accepted before the top of the next hour.
        RATE_LIMITED: _info(RateLimitError, "hourly request or login budget spent", unprocessed=True),
        "BDC_1150": _info(BillAPIError, "user cannot make online payments"),
        TOO_MANY_IN_FLIGHT: _info(
            ConcurrencyLimitError,
            "more than 3 requests in flight for this developer key and organization",
            retryable=True,
            unprocessed=True,
        ),
        "BDC_1356": _info(MfaError, "MFA code expired"),
        "BDC_1358": _info(MfaError, "too many MFA attempts"),
        "BDC_1361": _info(UntrustedSessionError, "operation needs an MFA-trusted session"),
        "BDC_1374": _info(MfaError, "MFA token expired"),
    }
)


def code_info(code: str | None, http_status: int) -> CodeInfo:
    """Return the table entry for ``code``, or a fallback decided by the HTTP status.

    Args:
        code: the first ``BDC_`` code of BILL's answer, if there was one.
        http_status: the HTTP status, consulted only when the code is unknown or absent.
    """
    if code is not None:
        known = CODES.get(code)
        if known is not None:
            return known
    if http_status >= 500:
        return _SERVER_FALLBACK
    if http_status == 404:
        return _NOT_FOUND_FALLBACK
    return _FALLBACK


_SERVER_FALLBACK: Final = _info(BillServerError, "BILL failed", retryable=True)
_NOT_FOUND_FALLBACK: Final = _info(BillNotFoundError, "no such object or path")
_FALLBACK: Final = _info(BillAPIError, "BILL refused the request")
