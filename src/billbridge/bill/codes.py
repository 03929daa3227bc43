"""The one table of BILL error codes: the exception, whether a retry helps, what it means for a link.

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
    """What one BDC code means for a caller, and for the product.

    Attributes:
        error: the exception class raised for it.
        retryable: a later identical request may succeed (after backoff).
        unprocessed: BILL certainly did nothing, so even a creating POST may be replayed.
        meaning: a short paraphrase of BILL's documentation.
        relink: only new credentials fix it; logging in again with the stored ones only spends the
            developer key's 200 logins an hour, so the connection must be re-linked.
        field: the link form field it concerns (``username``, ``password``, ``organization_id``,
            ``dev_key``), so a form can show the message there.
        advice: what the person linking an account reads, with ``{here}`` (this environment as a
            subject), ``{other}`` (the other environment) and ``{in_here}`` (this one after "in").
        refused: for credentials BILL tells apart per environment, what it did not accept.
    """

    error: type[BillAPIError]
    retryable: bool = False
    unprocessed: bool = False
    meaning: str = ""
    relink: bool = False
    field: str | None = None
    advice: str | None = None
    refused: str | None = None


CODES: Final = MappingProxyType(
    {
        "BDC_1001": CodeInfo(BillServerError, meaning="system error", retryable=True),
        "BDC_1002": CodeInfo(
            BillServerError, meaning="unknown error (often a malformed request)", retryable=True
        ),
        "BDC_1101": CodeInfo(
            InvalidCredentialsError,
            meaning="username or password not accepted",
            relink=True,
            field="password",
            advice="The username or password was not accepted by {here}. "
            "Credentials from {other} do not work in {in_here}.",
            refused="the username or password",
        ),
        "BDC_1102": CodeInfo(
            InvalidDevKeyError,
            meaning="developer key not valid",
            relink=True,
            field="dev_key",
            advice="The developer key is not valid for {here}. A developer key works in one environment "
            "only: use the key issued for {in_here}.",
            refused="the developer key",
        ),
        "BDC_1103": CodeInfo(
            InvalidDevKeyError,
            meaning="developer key inactive",
            relink=True,
            field="dev_key",
            advice="The developer key is inactive. Use an active developer key of this organization, "
            "or ask its BILL administrator to create one.",
            refused="the developer key",
        ),
        "BDC_1107": CodeInfo(
            AccountLockedError,
            meaning="organization locked out",
            field="organization_id",
            advice="This BILL organization is locked. An administrator must unlock it in BILL, "
            "then link again.",
        ),
        "BDC_1108": CodeInfo(BadRequestError, meaning="a required parameter is missing"),
        "BDC_1109": CodeInfo(SessionExpiredError, meaning="session invalid or expired; log in again"),
        "BDC_1110": CodeInfo(
            AccountLockedError,
            meaning="login locked",
            field="username",
            advice="This BILL sign-in is locked after too many attempts. Sign in to BILL's website to "
            "unlock it (or reset the password), then link again.",
        ),
        "BDC_1111": CodeInfo(
            AccountLockedError,
            meaning="no active user for this login",
            field="username",
            advice="This user is not active in the BILL organization. Ask an administrator of the "
            "organization to activate the user, or sign in as another user.",
        ),
        "BDC_1113": CodeInfo(BillAPIError, meaning="login error"),
        "BDC_1120": CodeInfo(BillNotFoundError, meaning="no data found"),
        "BDC_1121": CodeInfo(BillNotFoundError, meaning="API not supported (wrong path or letter case)"),
        "BDC_1122": CodeInfo(BadRequestError, meaning="the JSON body could not be parsed"),
        "BDC_1123": CodeInfo(
            BadRequestError,
            meaning="invalid organization id",
            relink=True,
            field="organization_id",
            advice="{here} does not know this organization ID. Check it; organizations of {other} "
            "are not visible here.",
        ),
        "BDC_1129": CodeInfo(BadRequestError, meaning="invalid parameter value"),
        "BDC_1130": CodeInfo(FilterError, meaning="invalid list filter field"),
        "BDC_1131": CodeInfo(FilterError, meaning="invalid list filter operator"),
        # Handled apart from backoff: nothing is accepted before the top of the next hour.
        RATE_LIMITED: CodeInfo(
            RateLimitError, meaning="hourly request or login budget spent", unprocessed=True
        ),
        "BDC_1150": CodeInfo(BillAPIError, meaning="user cannot make online payments"),
        TOO_MANY_IN_FLIGHT: CodeInfo(
            ConcurrencyLimitError,
            meaning="more than 3 requests in flight for this developer key and organization",
            retryable=True,
            unprocessed=True,
        ),
        "BDC_1356": CodeInfo(MfaError, meaning="MFA code expired"),
        "BDC_1358": CodeInfo(MfaError, meaning="too many MFA attempts"),
        "BDC_1361": CodeInfo(UntrustedSessionError, meaning="operation needs an MFA-trusted session"),
        "BDC_1374": CodeInfo(MfaError, meaning="MFA token expired"),
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


def needs_relink(code: str | None) -> bool:
    """Whether only new credentials (a re-link) can fix a login refused with ``code``."""
    info = CODES.get(code) if code is not None else None
    return info is not None and info.relink


_SERVER_FALLBACK: Final = CodeInfo(BillServerError, meaning="BILL failed", retryable=True)
_NOT_FOUND_FALLBACK: Final = CodeInfo(BillNotFoundError, meaning="no such object or path")
_FALLBACK: Final = CodeInfo(BillAPIError, meaning="BILL refused the request")
