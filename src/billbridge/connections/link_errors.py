"""Why a link failed, in words a person can act on: bad input and BILL's refusals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
    if isinstance(exc, InvalidCredentialsError) or code == "BDC_1101":
        return LinkRefusedError(
            f"The username or password was not accepted by {here}. "
            f"Credentials from {other} do not work in {in_here}.",
            field="password",
            bill_code=code,
        )
    if code == "BDC_1103":
        return LinkRefusedError(
            "The developer key is inactive. Use an active developer key of this organization, "
            "or ask its BILL administrator to create one.",
            field="dev_key",
            bill_code=code,
        )
    if isinstance(exc, InvalidDevKeyError) or code == "BDC_1102":
        return LinkRefusedError(
            f"The developer key is not valid for {here}. A developer key works in one environment "
            f"only: use the key issued for {in_here}.",
            field="dev_key",
            bill_code=code,
        )
    if code == "BDC_1107":
        return LinkRefusedError(
            "This BILL organization is locked. An administrator must unlock it in BILL, then link again.",
            field="organization_id",
            bill_code=code,
        )
    if code == "BDC_1111":
        return LinkRefusedError(
            "This user is not active in the BILL organization. Ask an administrator of the "
            "organization to activate the user, or sign in as another user.",
            field="username",
            bill_code=code,
        )
    if isinstance(exc, AccountLockedError) or code == "BDC_1110":
        return LinkRefusedError(
            "This BILL sign-in is locked after too many attempts. Sign in to BILL's website to unlock "
            "it (or reset the password), then link again.",
            field="username",
            bill_code=code,
        )
    if code == "BDC_1123":
        return LinkRefusedError(
            f"{here} does not know this organization ID. Check it; organizations of {other} "
            "are not visible here.",
            field="organization_id",
            bill_code=code,
        )
    return LinkRefusedError(
        f"{here} refused the sign-in ({code or 'no code'}): {exc.message}",
        bill_code=code,
    )
