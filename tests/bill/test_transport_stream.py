"""``BillClient.stream``: bodies streamed, errors read whole and retried as ``send`` does, the slot
held until the block ends (over httpx.MockTransport; the aiohttp path is in test_aiohttp_transport)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from billbridge.bill import BillClient, Limits, SessionAuth
from billbridge.bill.transport import CONNECTION_LOST, StreamedResponse
from billbridge.bill.wire import BUFFER_LIMIT, RawResponse, declared_length, reads_whole
from billbridge.errors import BillTransportError, RateLimitError

from .conftest import FIXED_NOW, MockClientFactory, bill_error

AUTH = SessionAuth(SecretStr("dev-key-1"), SecretStr("session-1"), "00801ABCDEFGHIJKLMNO")
BIG = bytes(range(256)) * 1024  # 256 KiB, more than one buffer


async def _pieces(parts: list[bytes], *, fail: bool = False) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if fail:
        raise httpx.ReadError("connection reset")


def _in_flight(client: BillClient) -> int:
    return client.limits.in_flight("dev-key-1", "00801ABCDEFGHIJKLMNO")


async def _drain(answer: StreamedResponse) -> list[bytes]:
    chunks = []
    while chunk := await answer.next_chunk():
        chunks.append(chunk)
    return chunks


async def test_a_large_body_streams_and_holds_the_slot_until_the_block_ends(
    mock_client: MockClientFactory,
) -> None:
    parts = [BIG[i : i + 65536] for i in range(0, len(BIG), 65536)]
    client, _ = await mock_client(lambda _: httpx.Response(200, content=_pieces(parts)))
    async with client.stream("GET", "/v3/vendors", auth=AUTH) as answer:
        assert answer.status == 200
        assert answer.body is None  # not read ahead
        assert _in_flight(client) == 1
        chunks = await _drain(answer)
        assert _in_flight(client) == 1  # BILL still counts the request until the block ends
    assert _in_flight(client) == 0
    assert b"".join(chunks) == BIG
    assert len(chunks) == len(parts)


async def test_a_small_body_of_known_length_comes_whole(mock_client: MockClientFactory) -> None:
    client, _ = await mock_client(lambda _: httpx.Response(200, json={"results": []}))
    async with client.stream("GET", "/v3/vendors", auth=AUTH) as answer:
        assert answer.body == b'{"results":[]}'
        assert await answer.next_chunk() == b'{"results":[]}'
        assert await answer.next_chunk() == b""


async def test_an_abandoned_stream_releases_the_slot(mock_client: MockClientFactory) -> None:
    client, _ = await mock_client(lambda _: httpx.Response(200, content=_pieces([BIG, BIG])))
    async with client.stream("GET", "/v3/vendors", auth=AUTH) as answer:
        assert await answer.next_chunk() == BIG
    assert _in_flight(client) == 0


async def test_error_answers_come_whole_and_are_retried_where_safe(mock_client: MockClientFactory) -> None:
    answers = iter([bill_error("BDC_1322", status=429), bill_error("BDC_1120", status=404)])
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    client, sleeps = await mock_client(handler)
    async with client.stream("GET", "/v3/vendors/00901", auth=AUTH, retries=2) as answer:
        assert answer.status == 404
        assert answer.body is not None
        error = client.parse_error(answer.raw())
        assert error is not None
        assert error.code == "BDC_1120"
    assert len(seen) == 2
    assert len(sleeps.delays) == 1
    assert seen[0].headers["devKey"] == "dev-key-1"


async def test_creating_posts_are_not_replayed(mock_client: MockClientFactory) -> None:
    calls: list[int] = []

    def handler(_: httpx.Request) -> httpx.Response:
        calls.append(1)
        return bill_error("BDC_1000", status=503)

    client, _ = await mock_client(handler)
    async with client.stream("POST", "/v3/vendors", auth=AUTH, content=b"{}", retries=3) as answer:
        assert answer.status == 503
    assert len(calls) == 1


async def test_bdc_1144_is_handed_over_and_spends_the_local_budget(mock_client: MockClientFactory) -> None:
    client, _ = await mock_client(lambda _: bill_error("BDC_1144", status=429))
    async with client.stream("GET", "/v3/vendors", auth=AUTH) as answer:
        assert answer.status == 429
    assert client.limits.requests_left("dev-key-1") == 0
    with pytest.raises(RateLimitError):
        async with client.stream("GET", "/v3/vendors", auth=AUTH):
            pass


async def test_a_spent_local_budget_sends_nothing(mock_client: MockClientFactory) -> None:
    sent: list[int] = []

    def handler(_: httpx.Request) -> httpx.Response:
        sent.append(1)
        return httpx.Response(200)

    client, _ = await mock_client(handler, limits=Limits(requests_per_hour=1, clock=lambda: FIXED_NOW))
    async with client.stream("GET", "/v3/vendors", auth=AUTH):
        pass
    with pytest.raises(RateLimitError):
        async with client.stream("GET", "/v3/vendors", auth=AUTH):
            pass
    assert len(sent) == 1


async def test_a_body_breaking_off_is_a_transport_error_and_not_retried(
    mock_client: MockClientFactory,
) -> None:
    calls: list[int] = []

    def handler(_: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, content=_pieces([BIG], fail=True))

    client, _ = await mock_client(handler)
    with pytest.raises(BillTransportError) as caught:
        async with client.stream("GET", "/v3/vendors", auth=AUTH, retries=3) as answer:
            await _drain(answer)
    assert caught.value.code == CONNECTION_LOST
    assert len(calls) == 1
    assert _in_flight(client) == 0


async def test_unreachable_bill_is_retried_then_raised(mock_client: MockClientFactory) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client, sleeps = await mock_client(handler)
    with pytest.raises(BillTransportError):
        async with client.stream("POST", "/v3/vendors", auth=AUTH, retries=2):
            pass
    assert len(sleeps.delays) == 2  # never sent, so even a create may go again
    assert _in_flight(client) == 0


def test_which_answers_are_read_whole() -> None:
    assert reads_whole(404, "GET", None)
    assert reads_whole(200, "HEAD", None)
    assert reads_whole(204, "DELETE", None)
    assert reads_whole(200, "GET", BUFFER_LIMIT)
    assert not reads_whole(200, "GET", BUFFER_LIMIT + 1)
    assert not reads_whole(200, "GET", None)
    assert declared_length(httpx.Headers({"Content-Length": "12"})) == 12
    assert declared_length(httpx.Headers({"Content-Length": "12", "Content-Encoding": "gzip"})) is None


async def test_a_read_stream_reads_the_rest() -> None:
    answer = StreamedResponse.of(RawResponse(200, [("X-A", "1")], b"abc"))
    assert answer.raw().body == b"abc"
    assert await answer.read() == b"abc"
    assert "abc" not in repr(answer)
