"""AiohttpTransport (the proxy's hot path) against a simulator served by uvicorn on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from billbridge.bill import AiohttpTransport, BillClient, Filter, SessionAuth, environment
from billbridge.bill.transport import NOT_SENT, TIMED_OUT, StreamedBody
from billbridge.errors import BillTransportError, InvalidCredentialsError
from billbridge.simulator import SimConfig, create_app
from support.processes import serve_in_thread

from .conftest import FAST_RETRIES, Demo, Sleeps, demo_of


@pytest.fixture(scope="module")
def live_sim() -> Iterator[str]:
    """A simulator served by uvicorn in a background thread; yields its gateway root."""
    app = create_app(SimConfig(records=30, organizations=1))
    with serve_in_thread(app, access_log=False, timeout_graceful_shutdown=2) as url:
        yield url


@pytest.fixture
async def control(live_sim: str) -> AsyncIterator[httpx.AsyncClient]:
    """The live simulator's control surface, reset before each test."""
    async with httpx.AsyncClient(base_url=live_sim) as http:
        (await http.post("/_sim/reset")).raise_for_status()
        yield http


@pytest.fixture
async def live_demo(control: httpx.AsyncClient) -> Demo:
    return demo_of((await control.get("/_sim/world")).json())


@pytest.fixture
async def live_client(live_sim: str) -> AsyncIterator[BillClient]:
    client = BillClient(environment("sandbox", live_sim), retry_policy=FAST_RETRIES)
    assert isinstance(client.transport, AiohttpTransport)  # the default
    yield client
    await client.aclose()


async def sign_in(client: BillClient, demo: Demo) -> SessionAuth:
    result = await client.login(
        username=demo.username,
        password=demo.password,
        organization_id=demo.organization_id,
        dev_key=demo.dev_key,
    )
    return result.auth(demo.dev_key)


async def test_login_list_and_errors_over_aiohttp(live_client: BillClient, live_demo: Demo) -> None:
    auth = await sign_in(live_client, live_demo)
    vendors = [v async for v in live_client.iterate("vendors", auth=auth, max=7)]
    assert len(vendors) == 30
    assert len({v["id"] for v in vendors}) == 30
    with pytest.raises(InvalidCredentialsError):
        await live_client.login(
            username=live_demo.username,
            password="wrong",
            organization_id=live_demo.organization_id,
            dev_key=live_demo.dev_key,
        )


async def test_quoted_filters_survive_the_wire(
    live_client: BillClient, live_demo: Demo, control: httpx.AsyncClient
) -> None:
    name = "Acme, Inc.: East & West/100%"
    added = await control.post(
        "/_sim/objects",
        json={
            "action": "add",
            "family": "vendors",
            "organization_id": live_demo.organization_id,
            "fields": {"name": name},
        },
    )
    added.raise_for_status()
    auth = await sign_in(live_client, live_demo)
    found = [v async for v in live_client.iterate("vendors", auth=auth, filters=[Filter("name", "eq", name)])]
    assert [v["name"] for v in found] == [name]


async def test_raw_send_keeps_status_headers_and_body(live_client: BillClient, live_demo: Demo) -> None:
    auth = await sign_in(live_client, live_demo)
    raw = await live_client.send("GET", "/v3/vendors/00900000000000000000", auth=auth)
    assert raw.status == 404
    assert raw.header("Content-Type") == "application/json"
    assert raw.body.startswith(b'[{"timestamp"')
    error = live_client.parse_error(raw)
    assert error is not None
    assert error.code == "BDC_1120"
    ok = await live_client.send("GET", "/v3/vendors", auth=auth, params=[("max", "2")])
    assert ok.status == 200
    assert ok.body.startswith(b'{"results":[')


async def test_ten_concurrent_calls_keep_three_in_flight(
    live_client: BillClient, live_demo: Demo, control: httpx.AsyncClient
) -> None:
    auth = await sign_in(live_client, live_demo)
    await control.post("/_sim/faults", json={"latency_ms": 100})
    await asyncio.gather(*(live_client.session_info(auth) for _ in range(10)))
    stats: dict[str, Any] = (await control.get("/_sim/stats")).json()
    assert 1 <= stats["peak_in_flight"] <= 3
    assert "BDC_1322" not in stats["errors"]


async def test_timeouts_over_aiohttp(
    live_sim: str, live_client: BillClient, live_demo: Demo, control: httpx.AsyncClient
) -> None:
    auth = await sign_in(live_client, live_demo)
    client = BillClient(
        environment("sandbox", live_sim), timeout=0.3, max_retries=1, retry_policy=FAST_RETRIES
    )
    try:
        await control.post("/_sim/faults", json={"timeout_rate": 1.0, "timeout_seconds": 1})
        with pytest.raises(BillTransportError) as caught:
            await client.session_info(auth)
        assert caught.value.code == TIMED_OUT
    finally:
        await client.aclose()


async def test_refused_connections_are_not_sent_and_retried() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    sleeps = Sleeps()
    client = BillClient(
        environment("sandbox", f"http://127.0.0.1:{closed_port}"), max_retries=2, sleep=sleeps
    )
    try:
        with pytest.raises(BillTransportError) as caught:
            await client.login(username="u@x.com", password="p", organization_id="008x", dev_key="k")
        assert caught.value.code == NOT_SENT
        assert caught.value.request == "POST /v3/login"
        assert len(sleeps.delays) == 2
    finally:
        await client.aclose()


async def _add_big_vendors(control: httpx.AsyncClient, demo: Demo, *, count: int = 40) -> None:
    # 40 vendors of ~70 KB each: a page of them is a few MB, like a document download.
    added = await control.post(
        "/_sim/objects",
        json={
            "action": "add",
            "family": "vendors",
            "organization_id": demo.organization_id,
            "count": count,
            "fields": {"name": "Bulky Vendor", "description": "x" * 70_000},
        },
    )
    added.raise_for_status()


async def test_a_large_page_streams_in_bounded_chunks(
    live_client: BillClient, live_demo: Demo, control: httpx.AsyncClient
) -> None:
    await _add_big_vendors(control, live_demo)
    auth = await sign_in(live_client, live_demo)
    whole = await live_client.send("GET", "/v3/vendors", auth=auth, params=[("max", "100")])
    chunks: list[bytes] = []
    async with live_client.stream("GET", "/v3/vendors", auth=auth, params=[("max", "100")]) as answer:
        assert answer.status == 200
        assert answer.body is None
        assert answer.length == len(whole.body)
        assert live_client.limits.in_flight(*auth.limit_key) == 1
        while chunk := await answer.next_chunk():
            chunks.append(chunk)
    assert live_client.limits.in_flight(*auth.limit_key) == 0
    assert len(whole.body) > 2_000_000
    assert b"".join(chunks) == whole.body
    assert max(len(c) for c in chunks) < len(whole.body) // 2


async def test_an_abandoned_stream_frees_the_slot_and_the_pool_stays_usable(
    live_client: BillClient, live_demo: Demo, control: httpx.AsyncClient
) -> None:
    await _add_big_vendors(control, live_demo)
    auth = await sign_in(live_client, live_demo)
    async with live_client.stream("GET", "/v3/vendors", auth=auth, params=[("max", "100")]) as answer:
        assert await answer.next_chunk()
    assert live_client.limits.in_flight(*auth.limit_key) == 0
    again = await live_client.send("GET", "/v3/vendors", auth=auth, params=[("max", "1")])
    assert again.status == 200


async def test_small_and_error_answers_stream_whole(live_client: BillClient, live_demo: Demo) -> None:
    auth = await sign_in(live_client, live_demo)
    async with live_client.stream("GET", "/v3/vendors", auth=auth, params=[("max", "2")]) as small:
        assert small.body is not None
        assert small.body.startswith(b'{"results":[')
    async with live_client.stream("GET", "/v3/vendors/00900000000000000000", auth=auth) as missing:
        assert missing.status == 404
        error = live_client.parse_error(missing.raw())
        assert error is not None
        assert error.code == "BDC_1120"


async def test_a_silent_bill_times_out_while_streaming(
    live_sim: str, live_client: BillClient, live_demo: Demo, control: httpx.AsyncClient
) -> None:
    auth = await sign_in(live_client, live_demo)
    client = BillClient(environment("sandbox", live_sim), timeout=0.3, max_retries=0)
    try:
        await control.post("/_sim/faults", json={"timeout_rate": 1.0, "timeout_seconds": 1})
        with pytest.raises(BillTransportError) as caught:
            async with client.stream("GET", "/v3/vendors", auth=auth):
                pass
        assert caught.value.code == TIMED_OUT
        assert client.limits.in_flight(*auth.limit_key) == 0
    finally:
        await client.aclose()


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_streamed_body_is_uploaded_once_and_intact(
    live_client: BillClient, live_demo: Demo, control: httpx.AsyncClient, declared: bool
) -> None:
    auth = await sign_in(live_client, live_demo)
    pieces = [bytes([n]) * 50_000 for n in range(40)]
    body = b"".join(pieces)

    async def chunks() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    content = StreamedBody(chunks(), length=len(body) if declared else None)
    async with live_client.stream(
        "POST",
        "/v3/attachments/vendors/00901AAAAAAAAAAAAAAA",
        auth=auth,
        params=[("name", "a.pdf")],
        content=content,
        retries=3,
    ) as answer:
        assert answer.status == 200
    (upload,) = (await control.get("/_sim/attachments")).json()
    assert (upload["size"], upload["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())


async def test_a_streamed_body_that_breaks_off_is_not_sent_again(
    live_client: BillClient, live_demo: Demo, control: httpx.AsyncClient
) -> None:
    auth = await sign_in(live_client, live_demo)
    before = (await control.get("/_sim/stats")).json()["requests"]

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 100_000
        raise OSError("the caller went away")

    with pytest.raises(BillTransportError):
        async with live_client.stream(
            "PUT", "/v3/vendors/00901AAAAAAAAAAAAAAA", auth=auth, content=StreamedBody(broken()), retries=3
        ):
            pass

    assert (await control.get("/_sim/stats")).json()["requests"] - before <= 1
    assert (await control.get("/_sim/attachments")).json() == []
