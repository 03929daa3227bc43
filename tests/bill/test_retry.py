"""Retry policy: pure rules and jitter, then the client's behaviour against scripted answers."""

from __future__ import annotations

import random
from collections.abc import Callable

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from billbridge.bill import Limits, RetryPolicy, SessionAuth, is_replay_safe
from billbridge.bill.retry import (
    add_jitter,
    backoff_delay,
    should_retry_answer,
    should_retry_failure,
)
from billbridge.bill.transport import CONNECTION_LOST, NOT_SENT, TIMED_OUT
from billbridge.errors import (
    BillServerError,
    BillTransportError,
    ConcurrencyLimitError,
    InvalidCredentialsError,
    InvalidDevKeyError,
    RateLimitError,
    UntrustedSessionError,
)

from .conftest import FIXED_NOW, MockClientFactory, bill_error

AUTH = SessionAuth(SecretStr("dev-key-1"), SecretStr("session-1"), "00801ABCDEFGHIJKLMNO")


# --- pure rules -------------------------------------------------------------------------------


def test_backoff_is_exponential_and_capped() -> None:
    assert [backoff_delay(n, base=0.5, cap=8.0) for n in range(7)] == [0.5, 1, 2, 4, 8, 8, 8]
    assert backoff_delay(10_000, base=0.5, cap=8.0) == 8.0
    with pytest.raises(ValueError):
        backoff_delay(-1, base=1, cap=1)


@given(st.floats(0, 1000), st.floats(0, 1))
def test_jitter_stays_between_half_and_whole(delay: float, fraction: float) -> None:
    jittered = add_jitter(delay, fraction)
    assert delay / 2 <= jittered <= delay


def test_jitter_has_randomness_but_within_range() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    rng = random.Random(42)
    delays = [policy.delay(2, rng) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 100


def test_jitter_rejects_fractions_outside_the_unit_interval() -> None:
    with pytest.raises(ValueError):
        add_jitter(1.0, 1.5)


@pytest.mark.parametrize(
    ("method", "path", "safe"),
    [
        ("GET", "/v3/vendors", True),
        ("PATCH", "/v3/vendors/009x", True),
        ("PUT", "/v3/bills/00nx", True),
        ("DELETE", "/v3/vendors/009x/bank-account", True),
        ("POST", "/v3/login", True),
        ("POST", "/v3/logout", True),
        ("POST", "/v3/vendors/009x/archive", True),
        ("POST", "/v3/vendors/009x/restore", True),
        ("POST", "/v3/vendors", False),
        ("POST", "/v3/payments", False),
        ("POST", "/v3/invoices/record-payment", False),
        ("POST", "/v3/mfa/challenge", False),
    ],
)
def test_replay_safety(method: str, path: str, safe: bool) -> None:
    assert is_replay_safe(method, path) is safe


@pytest.mark.parametrize(
    ("status", "code", "replay_safe", "expected"),
    [
        (503, None, True, True),
        (503, None, False, False),  # a create may have happened
        (500, "BDC_1001", True, True),
        (500, "BDC_1001", False, False),
        (400, "BDC_1322", False, True),  # refused before processing: safe even for a create
        (400, "BDC_1322", True, True),
        (401, "BDC_1101", True, False),
        (401, "BDC_1102", True, False),
        (403, "BDC_1361", True, False),
        (401, "BDC_1109", True, False),
        (400, "BDC_1144", True, False),  # waits for the hour, no backoff
        (400, "BDC_1129", True, False),
        (500, "BDC_1101", True, False),  # the code decides over the status
        (400, None, True, False),
    ],
)
def test_should_retry_on_codes(status: int, code: str | None, replay_safe: bool, expected: bool) -> None:
    assert should_retry_answer(status=status, code=code, replay_safe=replay_safe) is expected


@pytest.mark.parametrize(
    ("code", "replay_safe", "expected"),
    [
        (NOT_SENT, False, True),
        (NOT_SENT, True, True),
        (TIMED_OUT, True, True),
        (TIMED_OUT, False, False),
        (CONNECTION_LOST, True, True),
        (CONNECTION_LOST, False, False),
    ],
)
def test_should_retry_on_failures(code: str, replay_safe: bool, expected: bool) -> None:
    error = BillTransportError("no answer", code=code)
    assert should_retry_failure(error, replay_safe=replay_safe) is expected


# --- the client against scripted answers ------------------------------------------------------


def script(
    *steps: httpx.Response | type[Exception],
) -> tuple[Callable[[httpx.Request], httpx.Response], list[str]]:
    """A handler that plays ``steps`` in order (the last one repeats) and logs each request."""
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        step = steps[min(len(calls), len(steps) - 1)]
        calls.append(f"{request.method} {request.url.path}")
        if isinstance(step, httpx.Response):
            return step
        raise step("scripted failure")

    return handler, calls


async def test_reads_retry_5xx_with_growing_jittered_backoff(mock_client: MockClientFactory) -> None:
    handler, calls = script(
        httpx.Response(503),
        httpx.Response(502),
        bill_error("BDC_1001", status=500),
        httpx.Response(200, json={"ok": 1}),
    )
    client, sleeps = await mock_client(handler)
    assert await client.request("GET", "/v3/vendors", auth=AUTH) == {"ok": 1}
    assert len(calls) == 4
    assert [0.25 <= sleeps.delays[0] <= 0.5, 0.5 <= sleeps.delays[1] <= 1, 1 <= sleeps.delays[2] <= 2] == [
        True
    ] * 3


async def test_retries_stop_at_max_retries(mock_client: MockClientFactory) -> None:
    handler, calls = script(httpx.Response(503))
    client, sleeps = await mock_client(handler, max_retries=2)
    with pytest.raises(BillServerError):
        await client.request("GET", "/v3/vendors", auth=AUTH)
    assert len(calls) == 3
    assert len(sleeps.delays) == 2


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("BDC_1101", 401, InvalidCredentialsError),
        ("BDC_1102", 401, InvalidDevKeyError),
        ("BDC_1361", 403, UntrustedSessionError),
        ("BDC_1101", 500, InvalidCredentialsError),
    ],
)
async def test_credential_and_mfa_refusals_are_never_retried(
    mock_client: MockClientFactory, code: str, status: int, cls: type[Exception]
) -> None:
    handler, calls = script(bill_error(code, status=status))
    client, sleeps = await mock_client(handler)
    with pytest.raises(cls):
        await client.request("GET", "/v3/vendors", auth=AUTH)
    with pytest.raises(cls):
        await client.login(username="u@x.com", password="pw", organization_id="008x", dev_key="k")
    assert len(calls) == 2
    assert sleeps.delays == []


async def test_creating_post_is_not_replayed_after_a_5xx(mock_client: MockClientFactory) -> None:
    handler, calls = script(httpx.Response(503), httpx.Response(200, json={"id": "009"}))
    client, _ = await mock_client(handler)
    with pytest.raises(BillServerError):
        await client.request("POST", "/v3/vendors", auth=AUTH, json={"name": "Acme"})
    assert calls == ["POST /connect/v3/vendors"]


async def test_creating_post_is_not_replayed_after_a_timeout(mock_client: MockClientFactory) -> None:
    handler, calls = script(httpx.ReadTimeout, httpx.Response(200, json={"id": "009"}))
    client, _ = await mock_client(handler)
    with pytest.raises(BillTransportError) as caught:
        await client.request("POST", "/v3/vendors", auth=AUTH, json={"name": "Acme"})
    assert caught.value.code == TIMED_OUT
    assert caught.value.request == "POST /v3/vendors"
    assert len(calls) == 1


async def test_creating_post_is_replayed_when_it_never_left(mock_client: MockClientFactory) -> None:
    handler, calls = script(
        httpx.ConnectError, bill_error("BDC_1322"), httpx.Response(200, json={"id": "009"})
    )
    client, _ = await mock_client(handler)
    assert await client.request("POST", "/v3/vendors", auth=AUTH, json={"name": "Acme"}) == {"id": "009"}
    assert len(calls) == 3


async def test_reads_retry_timeouts_and_dropped_connections(mock_client: MockClientFactory) -> None:
    handler, calls = script(httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.Response(200, json=[]))
    client, _ = await mock_client(handler)
    assert await client.request("GET", "/v3/vendors", auth=AUTH) == []
    assert len(calls) == 3


async def test_concurrency_refusal_is_retried_then_surfaces(mock_client: MockClientFactory) -> None:
    handler, calls = script(bill_error("BDC_1322"))
    client, _ = await mock_client(handler, max_retries=1)
    with pytest.raises(ConcurrencyLimitError):
        await client.request("GET", "/v3/vendors", auth=AUTH)
    assert len(calls) == 2


async def test_raw_send_retries_only_when_asked(mock_client: MockClientFactory) -> None:
    handler, calls = script(httpx.Response(503), httpx.Response(200, content=b"{}"))
    client, _ = await mock_client(handler)
    first = await client.send("GET", "/v3/vendors", auth=AUTH)
    assert first.status == 503
    assert isinstance(client.parse_error(first), BillServerError)
    second = await client.send("GET", "/v3/vendors", auth=AUTH, retries=2)
    assert second.status == 200
    assert len(calls) == 2


async def test_rate_limit_raises_in_raise_mode(mock_client: MockClientFactory) -> None:
    handler, calls = script(bill_error("BDC_1144"))
    limits = Limits(clock=lambda: FIXED_NOW)
    client, sleeps = await mock_client(handler, limits=limits)
    with pytest.raises(RateLimitError):
        await client.request("GET", "/v3/vendors", auth=AUTH)
    assert len(calls) == 1
    assert sleeps.delays == []
    # BILL's word counts: nothing more goes out this hour, and the budget shows it.
    assert limits.requests_left("dev-key-1") == 0
    with pytest.raises(RateLimitError) as caught:
        await client.request("GET", "/v3/vendors", auth=AUTH)
    assert caught.value.code == "hourly_budget_spent"
    assert len(calls) == 1


async def test_rate_limit_waits_for_the_top_of_the_hour_in_wait_mode(mock_client: MockClientFactory) -> None:
    now = [FIXED_NOW]
    handler, calls = script(bill_error("BDC_1144"), httpx.Response(200, json={"ok": 1}))
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        now[0] += seconds

    limits = Limits(clock=lambda: now[0])
    client, _ = await mock_client(handler, limits=limits, on_rate_limit="wait", sleep=sleep)
    assert await client.request("GET", "/v3/vendors", auth=AUTH) == {"ok": 1}
    assert len(calls) == 2
    # 10:20 -> 11:00 is 40 minutes, plus a second of margin.
    assert delays == [40 * 60 + 1.0]


@pytest.mark.parametrize("failure", [httpx.Response(503), httpx.ConnectTimeout])
async def test_no_slot_is_held_while_backing_off(
    mock_client: MockClientFactory, failure: httpx.Response | type[Exception]
) -> None:
    handler, calls = script(failure, failure, httpx.Response(200, json={"ok": 1}))
    limits = Limits(clock=lambda: FIXED_NOW)
    held: list[int] = []

    async def sleep(seconds: float) -> None:
        held.append(limits.in_flight(*AUTH.limit_key))

    client, _ = await mock_client(handler, limits=limits, sleep=sleep)
    assert await client.request("GET", "/v3/vendors", auth=AUTH) == {"ok": 1}
    assert len(calls) == 3
    assert held == [0, 0]  # the slot went back before each backoff


async def test_a_failure_after_the_last_retry_is_raised_with_the_request(
    mock_client: MockClientFactory,
) -> None:
    handler, calls = script(httpx.ReadTimeout)
    client, sleeps = await mock_client(handler, max_retries=2)
    with pytest.raises(BillTransportError) as caught:
        await client.request("GET", "/v3/vendors", auth=AUTH)
    assert len(calls) == 3
    assert len(sleeps.delays) == 2
    assert caught.value.request == "GET /v3/vendors"


async def test_waiting_out_the_hour_is_not_a_retry(mock_client: MockClientFactory) -> None:
    now = [FIXED_NOW]
    handler, calls = script(
        httpx.Response(503), bill_error("BDC_1144"), httpx.Response(503), httpx.Response(200, json={"ok": 1})
    )
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        now[0] += seconds

    limits = Limits(clock=lambda: now[0])
    client, _ = await mock_client(handler, limits=limits, on_rate_limit="wait", sleep=sleep, max_retries=2)
    assert await client.request("GET", "/v3/vendors", auth=AUTH) == {"ok": 1}
    assert len(calls) == 4
    assert len(delays) == 3
    assert 0.25 <= delays[0] <= 0.5  # the first backoff
    assert 0.5 <= delays[2] <= 1.0  # the second: the wait for the hour was not a retry
    assert delays[1] > 30 * 60  # the hour, between the two backoffs
