"""The transports: foreign errors translated at the boundary, no cookies carried between tenants."""

from __future__ import annotations

import aiohttp
import httpx
import pytest
from pydantic import SecretStr

from billbridge.bill import (
    SANDBOX,
    AiohttpTransport,
    ApiTokenAuth,
    BillClient,
    HttpxTransport,
    RawResponse,
    SessionAuth,
    Transport,
)
from billbridge.bill.transport import CONNECTION_LOST, NOT_SENT, TIMED_OUT
from billbridge.errors import BillTransportError, MfaError

from .conftest import MockClientFactory, bill_error

AUTH = SessionAuth(SecretStr("dev-key-1"), SecretStr("session-1"), "00801ABCDEFGHIJKLMNO")


def test_both_transports_satisfy_the_protocol() -> None:
    assert isinstance(AiohttpTransport(), Transport)
    assert isinstance(HttpxTransport(httpx.AsyncClient()), Transport)


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (httpx.ConnectError, NOT_SENT),
        (httpx.ConnectTimeout, NOT_SENT),
        (httpx.ReadTimeout, TIMED_OUT),
        (httpx.RemoteProtocolError, CONNECTION_LOST),
        (httpx.ReadError, CONNECTION_LOST),
    ],
)
async def test_httpx_failures_are_translated(failure: type[Exception], code: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure("boom")

    transport = HttpxTransport(httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    with pytest.raises(BillTransportError) as caught:
        await transport.send(
            "GET", "https://gateway.test/connect/v3/x", headers={}, content=None, time_limit=5
        )
    assert caught.value.code == code
    assert isinstance(caught.value.__cause__, failure)
    await transport.aclose()


async def test_cookies_are_never_carried_to_the_next_request(mock_client: MockClientFactory) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={}, headers={"Set-Cookie": "tenant=one; Path=/"})

    client, _ = await mock_client(handler)
    await client.request("GET", "/v3/vendors", auth=AUTH)
    await client.request("GET", "/v3/vendors", auth=AUTH)
    assert all("cookie" not in request.headers for request in seen)


async def test_empty_answers_are_none(mock_client: MockClientFactory) -> None:
    client, _ = await mock_client(lambda _: httpx.Response(204))
    assert await client.request("POST", "/v3/logout", auth=AUTH) is None


async def test_secrets_sent_in_a_body_are_scrubbed_too(mock_client: MockClientFactory) -> None:
    remember = "remember-me-id-secret"
    client, _ = await mock_client(lambda _: bill_error("BDC_1374", f"unknown id {remember}"))
    with pytest.raises(MfaError) as caught:
        await client.mfa_step_up(AUTH, remember_me_id=remember, device="laptop")
    assert remember not in str(caught.value) + repr(caught.value.errors)


def test_auth_reprs_hide_secrets() -> None:
    token = ApiTokenAuth(SecretStr("api-token-secret"), "008x")
    assert "api-token-secret" not in repr(token)
    assert token.headers == {"apiToken": "api-token-secret"}
    assert "dev-key-1" not in repr(AUTH)
    assert "session-1" not in repr(AUTH)
    assert SessionAuth("plain-key", "plain-session", "008x").dev_key == SecretStr("plain-key")  # type: ignore[arg-type]


def test_raw_header_lookup_ignores_case() -> None:
    raw = RawResponse(200, [("Content-Type", "application/json"), ("X-A", "1"), ("x-a", "2")], b"")
    assert raw.header("content-type") == "application/json"
    assert raw.header("X-a") == "1"
    assert raw.header("missing") is None


async def test_a_given_aiohttp_session_is_left_open() -> None:
    session = aiohttp.ClientSession()
    transport = AiohttpTransport(session=session)
    await transport.aclose()
    assert not session.closed
    await session.close()
    own = AiohttpTransport()
    await own.aclose()  # never used: nothing to close


async def test_closing_the_client_closes_its_transport_once_or_twice() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(200)))
    async with BillClient(SANDBOX, transport=HttpxTransport(http)) as client:
        assert not http.is_closed
    assert http.is_closed
    await client.aclose()
