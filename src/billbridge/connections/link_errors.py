"""Why a link failed, in words a person can act on: bad input and BILL's refusals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from billbridge.bill import CODES
from billbridge.errors import (
    BillAPIError,
    BillbridgeError,
    BillServerError,
    ConcurrencyLimitError,
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
    """BILL refused the login (``connection_test_failed``) or failed (``bill_tokens_fetch_error``).

    ``field`` names the input the refusal concerns, so a form can show it there; ``bill_code`` is
    BILL's ``BDC_`` code and ``http_status`` BILL's status, when BILL answered.
    """

    default_code = "connection_test_failed"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        bill_code: str | None = None,
        code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status)
        self.field = field
        self.bill_code = bill_code


# LinkRefusedError's code when BILL could not be reached or failed (Nango's word for it).
UNREACHABLE = "bill_tokens_fetch_error"


def _labels(environment: str) -> dict[str, str]:
    """The placeholders of ``CodeInfo.advice``: this environment, the other one, "in" this one."""
    if environment == "production":
        return {"here": "BILL's production environment", "other": "the sandbox", "in_here": "production"}
    return {"here": "BILL's sandbox", "other": "production", "in_here": "the sandbox"}


def login_failure(exc: BillbridgeError, *, environment: str) -> BillbridgeError:
    """Turn an error from BILL's login into the error the person linking should see.

    The words and the field come from BILL's code table (``billbridge.bill.CODES``).

    Args:
        exc: what the BILL client raised.
        environment: ``sandbox`` or ``production``, named in the message.
    """
    labels = _labels(environment)
    code = exc.code if isinstance(exc, BillAPIError) else None
    if isinstance(exc, RateLimitError):
        at = exc.reset_at.strftime("%H:%M UTC")
        return RateLimitError(
            f"BILL's hourly sign-in limit for this developer key is reached. Try again after {at}.",
            reset_at=exc.reset_at,
            code=exc.code,
            http_status=exc.http_status,
        )
    if not isinstance(exc, BillAPIError) or isinstance(exc, BillServerError | ConcurrencyLimitError):
        return LinkRefusedError(
            f"{labels['here']} could not be reached or did not answer properly. Nothing was saved; "
            "try again in a minute.",
            bill_code=code,
            code=UNREACHABLE,
            http_status=exc.http_status,
        )
    info = CODES.get(code) if code is not None else None
    if info is not None and info.advice is not None:
        return LinkRefusedError(
            info.advice.format(**labels), field=info.field, bill_code=code, http_status=exc.http_status
        )
    return LinkRefusedError(
        f"{labels['here']} refused the sign-in ({code or 'no code'}): {exc.message}",
        bill_code=code,
        http_status=exc.http_status,
    )
