"""The one table from billbridge's errors to HTTP answers: BILL's own status never leaks through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billbridge.connections import LinkRefusedError, login_failure
from billbridge.connections.idempotency import IdempotencyError
from billbridge.errors import (
    BillAPIError,
    BillbridgeError,
    BillServerError,
    BillTransportError,
    ConcurrencyLimitError,
    CredentialsRejectedError,
    DecryptionError,
    FilterError,
    InvalidCredentialsError,
    LoginCooldownError,
    MfaError,
    NotFoundError,
    RateLimitError,
    UntrustedSessionError,
    ValidationError,
)
from billbridge.web.errors import describe, reply_status

SOON = datetime.now(UTC) + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValidationError("bad", field="x"), 400),
        (NotFoundError("gone"), 404),
        (NotFoundError("expired", code="unknown_connect_session_token"), 401),
        (CredentialsRejectedError("re-link"), 424),
        (LoginCooldownError("wait", retry_after=3), 424),
        (UntrustedSessionError("mfa", http_status=403), 403),
        (RateLimitError("spent", reset_at=SOON, http_status=429), 429),
        (ConcurrencyLimitError("busy", http_status=429), 503),
        (BillTransportError("down"), 502),
        # A proxied call BILL never answered is BILL's failure, not a link's deadline.
        (BillTransportError("no answer", code="bill_timeout"), 502),
        (LinkRefusedError("no answer in time", code="bill_timeout"), 504),
        (BillServerError("boom", http_status=503), 502),
        # BILL's 400 to a request billbridge made is not the caller's fault.
        (FilterError("bad filter", http_status=400), 502),
        (MfaError("code", http_status=400), 502),
        (BillAPIError("odd", http_status=418), 502),
        (IdempotencyError("reused", code="idempotency_key_reused"), 409),
        (DecryptionError("key"), 500),
        (BillbridgeError("anything", http_status=409), 500),
    ],
)
def test_each_error_class_has_one_answer_whatever_bills_status(error: BillbridgeError, status: int) -> None:
    assert reply_status(error) == status


def test_a_refused_link_is_400_on_its_field_and_a_failing_bill_502() -> None:
    refused = login_failure(
        InvalidCredentialsError("no", code="BDC_1101", http_status=401), environment="sandbox"
    )
    failing = login_failure(BillServerError("boom", http_status=503), environment="sandbox")
    assert isinstance(refused, LinkRefusedError)
    assert refused.http_status == 401  # BILL's status, kept for the logs

    status, code, _message, errors, _headers = describe(refused)

    assert (status, code) == (400, "connection_test_failed")
    assert errors is not None
    assert [(issue["path"], issue["code"]) for issue in errors] == [(["password"], "BDC_1101")]
    assert reply_status(failing) == 502


def test_retry_after_comes_with_the_answers_that_have_one() -> None:
    reset_at = datetime.now(UTC) + timedelta(seconds=300)
    assert 290 <= int(describe(RateLimitError("spent", reset_at=reset_at))[4]["Retry-After"]) <= 300
    assert describe(LoginCooldownError("wait", retry_after=2.5))[4] == {"Retry-After": "3"}
    assert describe(ConcurrencyLimitError("busy"))[4] == {"Retry-After": "1"}
    assert describe(BillTransportError("down"))[4] == {}
