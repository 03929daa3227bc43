"""The link form's checks and the mapping of BILL's login refusals to actionable messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billbridge.connections import (
    FieldProblem,
    LinkInputError,
    LinkRefusedError,
    login_failure,
    parse_link_form,
)
from billbridge.errors import (
    AccountLockedError,
    BadRequestError,
    BillServerError,
    BillTransportError,
    ConcurrencyLimitError,
    InvalidCredentialsError,
    InvalidDevKeyError,
    RateLimitError,
)

GOOD = {
    "username": "ap@acme.example",
    "password": " secret with spaces ",
    "organization_id": "00801ABCDEFGHIJKLMNO",
    "dev_key": "01DEVKEY0123456789",
}


def _problems(body: object) -> list[FieldProblem]:
    with pytest.raises(LinkInputError) as caught:
        parse_link_form(body)
    return list(caught.value.problems)


def test_a_good_form_is_trimmed_but_the_password_is_kept_as_typed() -> None:
    form = parse_link_form(
        {**GOOD, "username": "  ap@acme.example ", "organization_id": " 00801ABCDEFGHIJKLMNO"}
    )

    assert form.username == "ap@acme.example"
    assert form.organization_id == "00801ABCDEFGHIJKLMNO"
    assert form.password.get_secret_value() == " secret with spaces "
    assert form.api_token is None
    assert "secret" not in repr(form)
    assert "DEVKEY" not in repr(form)


def test_optional_api_token_and_connect_ui_type_are_accepted() -> None:
    form = parse_link_form({**GOOD, "api_token": "tok-123", "type": "BILL"})
    assert form.api_token is not None
    assert form.api_token.get_secret_value() == "tok-123"


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"username": None}, "username", "required"),
        ({"password": "   "}, "password", "required"),
        ({"organization_id": "00601ABCDEFGHIJKLMNO"}, "organization_id", "invalid_string"),
        ({"organization_id": "008ABC"}, "organization_id", "invalid_string"),
        ({"organization_id": "008-1ABCDEFGHIJKLMNO"}, "organization_id", "invalid_string"),
        ({"username": "ap@acme"}, "username", "invalid_string"),
        ({"dev_key": "01 DEV KEY"}, "dev_key", "invalid_string"),
        ({"dev_key": 7}, "dev_key", "invalid_type"),
        ({"api_token": "  "}, "api_token", "required"),
        ({"username": "a@b.co" + "x" * 300}, "username", "too_big"),
        ({"extra": "x"}, "extra", "unrecognized_keys"),
        ({"type": "OAUTH2"}, "type", "unrecognized_keys"),
    ],
)
def test_each_problem_names_its_field(changes: dict[str, object], field: str, code: str) -> None:
    body = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}

    problems = _problems(body)

    assert [(p.field, p.code) for p in problems] == [(field, code)]
    assert field in problems[0].message


def test_every_problem_is_reported_at_once_and_the_message_joins_them() -> None:
    with pytest.raises(LinkInputError) as caught:
        parse_link_form({})
    assert [p.field for p in caught.value.problems] == ["username", "password", "organization_id", "dev_key"]
    assert caught.value.code == "invalid_body"
    assert "organization_id is required" in caught.value.message
    assert _problems("not an object")[0].field == "body"


def _refusal(exc: Exception, environment: str = "sandbox") -> LinkRefusedError:
    result = login_failure(exc, environment=environment)  # type: ignore[arg-type]
    assert isinstance(result, LinkRefusedError)
    return result


def test_wrong_password_messages_name_the_environment() -> None:
    sandbox = _refusal(InvalidCredentialsError("bad", code="BDC_1101"))
    production = _refusal(InvalidCredentialsError("bad", code="BDC_1101"), "production")

    assert sandbox.message == (
        "The username or password was not accepted by BILL's sandbox. "
        "Credentials from production do not work in the sandbox."
    )
    assert production.message == (
        "The username or password was not accepted by BILL's production environment. "
        "Credentials from the sandbox do not work in production."
    )
    assert sandbox.field == production.field == "password"
    assert sandbox.code == "connection_test_failed"
    assert sandbox.bill_code == "BDC_1101"


@pytest.mark.parametrize(
    ("error", "field", "words"),
    [
        (InvalidDevKeyError("x", code="BDC_1102"), "dev_key", "not valid for BILL's sandbox"),
        (InvalidDevKeyError("x", code="BDC_1103"), "dev_key", "inactive"),
        (AccountLockedError("x", code="BDC_1107"), "organization_id", "organization is locked"),
        (AccountLockedError("x", code="BDC_1110"), "username", "sign-in is locked"),
        (AccountLockedError("x", code="BDC_1111"), "username", "not active"),
        (BadRequestError("x", code="BDC_1123"), "organization_id", "does not know this organization ID"),
        (BadRequestError("Something odd", code="BDC_1113"), None, "Something odd"),
    ],
)
def test_bill_refusals_map_to_the_field_and_the_fix(error: Exception, field: str | None, words: str) -> None:
    refusal = _refusal(error)
    assert refusal.field == field
    assert words in refusal.message
    assert refusal.code == "connection_test_failed"


@pytest.mark.parametrize(
    "error",
    [
        BillTransportError("connection refused"),
        BillServerError("boom", code="BDC_1001", http_status=503),
        ConcurrencyLimitError("busy", code="BDC_1322"),
    ],
)
def test_unreachable_or_failing_bill_is_502(error: Exception) -> None:
    refusal = _refusal(error)
    assert refusal.code == "bill_tokens_fetch_error"
    assert "Nothing was saved" in refusal.message


def test_rate_limit_keeps_its_reset_time_and_says_when() -> None:
    reset = datetime(2030, 1, 1, 14, 0, tzinfo=UTC)
    result = login_failure(RateLimitError("cap", reset_at=reset, code="BDC_1144"), environment="sandbox")

    assert isinstance(result, RateLimitError)
    assert result.reset_at == reset
    assert "14:00 UTC" in result.message
    assert reset - timedelta(hours=1) < result.reset_at
