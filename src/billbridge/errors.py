"""The exception tree of billbridge.

    BillbridgeError                  root: every error billbridge raises on purpose
    ├── ConfigurationError           a setting is missing or malformed (names the variable)
    ├── ValidationError              an input is malformed (names the field and the fix)
    ├── NotFoundError                a billbridge resource (connection, integration, token) is unknown
    ├── StoreError                   the database could not do what was asked
    │   └── DecryptionError          a ciphertext does not open under any key of the keyring
    ├── ConnectionStateError         a connection cannot be used as it is
    │   ├── CredentialsRejectedError     marked invalid_credentials; re-link to use it again
    │   └── LoginCooldownError           a recent login failed transiently; wait before the next
    ├── BillTransportError           BILL could not be reached or did not answer in time
    └── BillAPIError                 BILL answered with an error (fallback for unknown BDC codes)
        ├── InvalidCredentialsError      BDC_1101: username or password not accepted
        ├── InvalidDevKeyError           BDC_1102/1103: developer key unknown or inactive here
        ├── AccountLockedError           BDC_1107/1110/1111: organization or login locked
        ├── SessionExpiredError          BDC_1109: log in again
        ├── UntrustedSessionError        BDC_1361: needs an MFA-trusted session
        ├── MfaError                     BDC_1356/1358/1374: MFA code expired or refused
        ├── RateLimitError               BDC_1144: hourly budget spent; carries reset_at
        ├── ConcurrencyLimitError        BDC_1322: more than 3 requests in flight per organization
        ├── BillNotFoundError            BDC_1120/1121 or 404: no such object or path
        ├── BadRequestError              BDC_1108/1122/1123/1129 and other 4xx
        │   └── FilterError              BDC_1130/1131: bad list filter field or operator
        └── BillServerError              BDC_1001/1002 or 5xx: BILL failed; safe to retry reads

Every class carries ``code``, ``http_status`` and ``message``; none ever holds a secret, and
``repr`` shows only those fields. ``http_status`` is BILL's HTTP status when BILL answered (None
otherwise); the status billbridge answers with is decided by the web layer's reply table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, Unpack


class BillbridgeError(Exception):
    """Root of every error billbridge raises on purpose."""

    default_code = "billbridge_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        request: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.http_status = http_status
        # "METHOD /path" only: never headers, query or body, which may hold secrets.
        self.request = request

    def __str__(self) -> str:
        where = f" ({self.request})" if self.request else ""
        return f"[{self.code}] {self.message}{where}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, http_status={self.http_status!r}, "
            f"message={self.message!r})"
        )


class ConfigurationError(BillbridgeError):
    default_code = "invalid_configuration"


class ValidationError(BillbridgeError):
    """An input is malformed; ``field`` names it and the message says how to fix it."""

    default_code = "invalid_body"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class NotFoundError(BillbridgeError):
    default_code = "not_found"


class StoreError(BillbridgeError):
    default_code = "store_error"


class DecryptionError(StoreError):
    default_code = "decryption_failed"


class ConnectionStateError(BillbridgeError):
    default_code = "connection_unusable"


class CredentialsRejectedError(ConnectionStateError):
    default_code = "invalid_credentials"


class LoginCooldownError(ConnectionStateError):
    default_code = "connection_refresh_backoff"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BillTransportError(BillbridgeError):
    default_code = "bill_unreachable"


class BillAPIError(BillbridgeError):
    """BILL answered with an error. ``errors`` is BILL's list of error objects, as sent."""

    default_code = "bill_error"

    def __init__(
        self, message: str, *, errors: list[dict[str, Any]] | None = None, **context: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **context)
        self.errors = errors or []


class InvalidCredentialsError(BillAPIError):
    default_code = "BDC_1101"


class InvalidDevKeyError(BillAPIError):
    default_code = "BDC_1102"


class AccountLockedError(BillAPIError):
    default_code = "BDC_1110"


class SessionExpiredError(BillAPIError):
    default_code = "BDC_1109"


class UntrustedSessionError(BillAPIError):
    default_code = "BDC_1361"


class MfaError(BillAPIError):
    default_code = "BDC_1356"


class RateLimitError(BillAPIError):
    """BILL's hourly budget is spent; nothing more is accepted before ``reset_at`` (UTC)."""

    default_code = "BDC_1144"

    def __init__(self, message: str, *, reset_at: datetime, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reset_at = reset_at


class ConcurrencyLimitError(BillAPIError):
    default_code = "BDC_1322"


class BillNotFoundError(BillAPIError):
    default_code = "BDC_1120"


class BadRequestError(BillAPIError):
    default_code = "BDC_1129"


class FilterError(BadRequestError):
    default_code = "BDC_1130"


class BillServerError(BillAPIError):
    default_code = "BDC_1001"


class ErrorContext(TypedDict, total=False):
    """The keyword arguments of ``BillbridgeError`` besides the message, for subclasses to pass on."""

    code: str | None
    http_status: int | None
    request: str | None
