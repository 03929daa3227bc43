"""Why a link failed, in words a person can act on: bad input and BILL's refusals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from billbridge.errors import (
    AccountLockedError,
    BillAPIError,
    BillbridgeError,
    BillServerError,
    BillTransportError,
    ConcurrencyLimitError,
    InvalidCredentialsError,
    InvalidDevKeyError,
    RateLimitError,
    ValidationError,
)


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One field's problem: ``field`` names it, ``message`` says how to fix it."""

    field: str
    message: str
    code: str = "invalid_string"


class LinkInputError(ValidationError):
    """One or more fields of a link request are malformed; ``problems`` lists each one."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        super().__init__(" ".join(p.message for p in problems), field=problems[0].field, code="invalid_body")
        self.problems = tuple(problems)


class LinkRefusedError(BillbridgeError):
    """BILL refused the login (400 ``connection_test_failed``) or failed (502 ``bill_tokens_fetch_error``).

    ``field`` names the input the refusal concerns, so a form can show it there; ``bill_code`` is
    BILL's ``BDC_`` code when there is one.
    """

    default_code = "connection_test_failed"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        bill_code: str | None = None,
        code: str | None = None,
        http_status: int = 400,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status)
        self.field = field
        self.bill_code = bill_code


def _labels(environment: str) -> tuple[str, str, str]:
    """(this environment as a subject, the other one, this one after "in")."""
    if environment == "production":
        return "BILL's production environment", "the sandbox", "production"
    return "BILL's sandbox", "production", "the sandbox"


class _Refusal(NamedTuple):
    """A refusal a person can fix: BILL's code (or the client's class for it), the field, the words.

    ``{here}``, ``{other}`` and ``{in_here}`` in the words are the labels of :func:`_labels`.
    """

    code: str
    error: type[BillAPIError] | None
    field: str
    words: str


# Checked in this order: the first that matches words the refusal.
_REFUSALS: Final = (
    _Refusal(
        "BDC_1101",
        InvalidCredentialsError,
        "password",
        "The username or password was not accepted by {here}. "
        "Credentials from {other} do not work in {in_here}.",
    ),
    _Refusal(
        "BDC_1103",
        None,
        "dev_key",
        "The developer key is inactive. Use an active developer key of this organization, "
        "or ask its BILL administrator to create one.",
    ),
    _Refusal(
        "BDC_1102",
        InvalidDevKeyError,
        "dev_key",
        "The developer key is not valid for {here}. A developer key works in one environment "
        "only: use the key issued for {in_here}.",
    ),
    _Refusal(
        "BDC_1107",
        None,
        "organization_id",
        "This BILL organization is locked. An administrator must unlock it in BILL, then link again.",
    ),
    _Refusal(
        "BDC_1111",
        None,
        "username",
        "This user is not active in the BILL organization. Ask an administrator of the "
        "organization to activate the user, or sign in as another user.",
    ),
    _Refusal(
        "BDC_1110",
        AccountLockedError,
        "username",
        "This BILL sign-in is locked after too many attempts. Sign in to BILL's website to unlock "
        "it (or reset the password), then link again.",
    ),
    _Refusal(
        "BDC_1123",
        None,
        "organization_id",
        "{here} does not know this organization ID. Check it; organizations of {other} are not visible here.",
    ),
)


def login_failure(exc: BillbridgeError, *, environment: str) -> BillbridgeError:
    """Turn an error from BILL's login into the error the person linking should see.

    Args:
        exc: what the BILL client raised.
        environment: ``sandbox`` or ``production``, named in the message.
    """
    here, other, in_here = _labels(environment)
    code = exc.code if isinstance(exc, BillAPIError) else None
    if isinstance(exc, RateLimitError):
        at = exc.reset_at.strftime("%H:%M UTC")
        return RateLimitError(
            f"BILL's hourly sign-in limit for this developer key is reached. Try again after {at}.",
            reset_at=exc.reset_at,
            code=exc.code,
            http_status=429,
        )
    if isinstance(exc, BillTransportError | BillServerError | ConcurrencyLimitError) or not isinstance(
        exc, BillAPIError
    ):
        return LinkRefusedError(
            f"{here} could not be reached or did not answer properly. Nothing was saved; "
            "try again in a minute.",
            bill_code=code,
            code="bill_tokens_fetch_error",
            http_status=502,
        )
    for refusal in _REFUSALS:
        if code == refusal.code or (refusal.error is not None and isinstance(exc, refusal.error)):
            message = refusal.words.format(here=here, other=other, in_here=in_here)
            return LinkRefusedError(message, field=refusal.field, bill_code=code)
    return LinkRefusedError(
        f"{here} refused the sign-in ({code or 'no code'}): {exc.message}",
        bill_code=code,
    )
