"""BILL's error answers become the errors.py classes, chosen by BDC code, never leaking secrets."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import orjson
import pytest
from pydantic import SecretStr

from billbridge.bill import CODES, RawResponse, SessionAuth, parse_error
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

from .conftest import FIXED_NOW, MockClientFactory, bill_error

DEV_KEY = "DEVKEY-0123456789-secret"
SESSION = "SESSION-abcdef-secret"
AUTH = SessionAuth(SecretStr(DEV_KEY), SecretStr(SESSION), "00801ABCDEFGHIJKLMNO")

EXPECTED = {
    "BDC_1001": BillServerError,
    "BDC_1002": BillServerError,
    "BDC_1101": InvalidCredentialsError,
    "BDC_1102": InvalidDevKeyError,
    "BDC_1103": InvalidDevKeyError,
    "BDC_1107": AccountLockedError,
    "BDC_1110": AccountLockedError,
    "BDC_1111": AccountLockedError,
    "BDC_1108": BadRequestError,
    "BDC_1109": SessionExpiredError,
    "BDC_1120": BillNotFoundError,
    "BDC_1121": BillNotFoundError,
    "BDC_1122": BadRequestError,
    "BDC_1123": BadRequestError,
    "BDC_1129": BadRequestError,
    "BDC_1130": FilterError,
    "BDC_1131": FilterError,
    "BDC_1144": RateLimitError,
    "BDC_1322": ConcurrencyLimitError,
    "BDC_1356": MfaError,
    "BDC_1358": MfaError,
    "BDC_1361": UntrustedSessionError,
    "BDC_1374": MfaError,
}


def test_table_covers_every_documented_code() -> None:
    for code, cls in EXPECTED.items():
        assert CODES[code].error is cls, code


@pytest.mark.parametrize(("code", "cls"), sorted(EXPECTED.items()))
async def test_code_decides_the_class(
    mock_client: MockClientFactory, code: str, cls: type[BillAPIError]
) -> None:
    # Every answer has the same status, so only the code can pick the class.
    client, _ = await mock_client(lambda _: bill_error(code, status=400), max_retries=0)
    with pytest.raises(cls) as caught:
        await client.request("GET", "/v3/vendors", auth=AUTH)
    assert type(caught.value) is cls
    assert caught.value.code == code
    assert caught.value.http_status == 400
    assert caught.value.request == "GET /v3/vendors"
    assert caught.value.errors[0]["code"] == code


@pytest.mark.parametrize(
    ("status", "cls"),
    [(500, BillServerError), (503, BillServerError), (404, BillNotFoundError), (401, BillAPIError)],
)
async def test_unknown_code_falls_back_on_status(
    mock_client: MockClientFactory, status: int, cls: type[BillAPIError]
) -> None:
    client, _ = await mock_client(lambda _: bill_error("BDC_9999", status=status), max_retries=0)
    with pytest.raises(BillAPIError) as caught:
        await client.request("GET", "/v3/vendors", auth=AUTH)
    assert type(caught.value) is cls
    assert caught.value.code == "BDC_9999"


async def test_unparseable_body_gives_status_and_excerpt(mock_client: MockClientFactory) -> None:
    page = b"<html><body>Bad gateway " + b"x" * 1000 + b"</body></html>"
    client, _ = await mock_client(lambda _: httpx.Response(502, content=page), max_retries=0)
    with pytest.raises(BillServerError) as caught:
        await client.request("GET", "/v3/vendors", auth=AUTH)
    message = str(caught.value)
    assert "502" in message
    assert "<html><body>Bad gateway" in message
    assert len(message) < 400  # an excerpt, not the whole page
    assert caught.value.http_status == 502


async def test_unparseable_client_error_is_a_bill_api_error(mock_client: MockClientFactory) -> None:
    client, _ = await mock_client(lambda _: httpx.Response(400, content=b"nope"), max_retries=0)
    with pytest.raises(BillAPIError) as caught:
        await client.request("GET", "/v3/vendors", auth=AUTH)
    assert type(caught.value) is BillAPIError
    assert "400" in str(caught.value)
    assert "nope" in str(caught.value)


async def test_success_that_is_not_json_is_reported(mock_client: MockClientFactory) -> None:
    client, _ = await mock_client(lambda _: httpx.Response(200, content=b"<html>"))
    with pytest.raises(BillAPIError, match="not JSON"):
        await client.request("GET", "/v3/vendors", auth=AUTH)


async def test_no_secret_in_message_or_repr(mock_client: MockClientFactory) -> None:
    # A BILL message that echoes the credentials must not carry them any further.
    echo = f"bad key {DEV_KEY} for session {SESSION}"
    client, _ = await mock_client(lambda _: bill_error("BDC_1102", echo, status=401), max_retries=0)
    with pytest.raises(InvalidDevKeyError) as caught:
        await client.request("GET", "/v3/vendors", auth=AUTH)
    error = caught.value
    for text in (str(error), repr(error), repr(error.errors), repr(AUTH), repr(client)):
        assert DEV_KEY not in text
        assert SESSION not in text


async def test_login_errors_name_the_environment_and_hide_the_password(
    mock_client: MockClientFactory,
) -> None:
    client, _ = await mock_client(
        lambda _: bill_error("BDC_1101", "User name and/or password do not match.", status=401)
    )
    with pytest.raises(InvalidCredentialsError) as caught:
        await client.login(
            username="ap@example.com",
            password="hunter2-pass",
            organization_id="00801ABCDEFGHIJKLMNO",
            dev_key=DEV_KEY,
        )
    message = str(caught.value)
    assert "sandbox environment" in message
    assert "other BILL environment" in message
    assert "hunter2-pass" not in message + repr(caught.value)
    assert DEV_KEY not in message


async def test_dev_key_error_names_the_environment(mock_client: MockClientFactory) -> None:
    client, _ = await mock_client(lambda _: bill_error("BDC_1102", status=401))
    with pytest.raises(InvalidDevKeyError, match="developer key in the sandbox environment"):
        await client.login(username="ap@example.com", password="p", organization_id="008x", dev_key=DEV_KEY)


async def test_rate_limit_carries_the_top_of_the_next_hour(mock_client: MockClientFactory) -> None:
    client, _ = await mock_client(lambda _: bill_error("BDC_1144", status=400))
    with pytest.raises(RateLimitError) as caught:
        await client.request("GET", "/v3/vendors", auth=AUTH)
    assert caught.value.reset_at == datetime(2030, 1, 1, 11, 0, tzinfo=UTC)
    assert datetime.fromtimestamp(FIXED_NOW, UTC) < caught.value.reset_at


def test_parse_error_on_raw_answers() -> None:
    ok = RawResponse(200, [], b'{"results": []}')
    assert parse_error(ok) is None
    body = orjson.dumps([{"code": "BDC_1109", "message": "Session is invalid"}])
    error = parse_error(RawResponse(401, [("content-type", "application/json")], body))
    assert isinstance(error, SessionExpiredError)
    assert error.message == "Session is invalid"


def test_error_list_with_only_a_message_uses_the_status() -> None:
    body = orjson.dumps([{"message": "email: must not be blank"}])
    error = parse_error(RawResponse(400, [], body))
    assert type(error) is BillAPIError
    assert error is not None
    assert "email: must not be blank" in error.message


def test_several_errors_keep_all_and_say_so() -> None:
    body = orjson.dumps([{"code": "BDC_1129", "message": "first"}, {"code": "BDC_1108", "message": "second"}])
    error = parse_error(RawResponse(400, [], body))
    assert isinstance(error, BadRequestError)
    assert error.code == "BDC_1129"
    assert len(error.errors) == 2
    assert "1 more" in error.message
