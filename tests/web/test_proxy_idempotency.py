"""``Idempotency-Key`` on proxied writes: one BILL call per key, the first answer replayed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send
from web_harness import Api

from billbridge.connections.idempotency import IdempotentRequests
from billbridge.simulator import SimConfig, create_app
from billbridge.store import IdempotencyRepository
from billbridge.store.models import IdempotencyRow
from billbridge.web.api.proxy import read_headers

Form = Callable[..., dict[str, str]]


class HeaderRecorder:
    """Notes the header names of every request the simulator receives."""

    def __init__(self, app: ASGIApp, seen: list[set[str]]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append({name.decode().lower() for name, _ in scope["headers"]})
        await self.app(scope, receive, send)


@pytest.fixture
def sim_app(sim_config: SimConfig) -> Starlette:
    app = create_app(sim_config)
    app.state.seen_headers = []
    app.add_middleware(HeaderRecorder, seen=app.state.seen_headers)
    return app


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"connect_session_purge_seconds": 0.1}


@pytest.fixture
async def linked(api: Api, demo_form: Form) -> str:
    return await api.linked(demo_form())


def _headers(connection_id: str, key: str | None = None, *, prefixed: bool = False) -> dict[str, str]:
    headers = {"Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"}
    if key is not None:
        headers["Nango-Proxy-Idempotency-Key" if prefixed else "Idempotency-Key"] = key
    return headers


async def _vendors_named(api: Api, name: str) -> int:
    listing = await api.sim.get("/_sim/objects", params={"family": "vendors"})
    return sum(1 for vendor in listing.json()["results"] if vendor.get("name") == name)


def _vendor(name: str) -> dict[str, Any]:
    return {"name": name, "accountType": "BUSINESS", "email": "ap@once.example", "phone": "5550100"}


async def test_the_same_key_and_body_replays_the_first_answer_without_a_second_create(
    api: Api, linked: str
) -> None:
    key, name = str(uuid.uuid4()), f"Once Vendor {uuid.uuid4().hex[:6]}"

    first = await api.client.post("/proxy/v3/vendors", headers=_headers(linked, key), json=_vendor(name))
    requests_after_first = (await api.sim_stats())["requests"]
    second = await api.client.post("/proxy/v3/vendors", headers=_headers(linked, key), json=_vendor(name))

    assert first.status_code in (200, 201), first.text
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert second.headers["content-type"] == first.headers["content-type"]
    assert (await api.sim_stats())["requests"] == requests_after_first
    assert await _vendors_named(api, name) == 1


async def test_the_same_key_with_another_body_is_refused_with_409(api: Api, linked: str) -> None:
    key = str(uuid.uuid4())
    await api.client.post("/proxy/v3/vendors", headers=_headers(linked, key), json=_vendor("First Body"))

    other = await api.client.post("/proxy/v3/vendors", headers=_headers(linked, key), json=_vendor("Other"))

    assert other.status_code == 409
    error = other.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in error["message"]
    assert error["errors"][0]["path"] == ["Idempotency-Key"]
    assert await _vendors_named(api, "Other") == 0


async def test_concurrent_duplicates_wait_for_the_first_and_cause_one_bill_call(
    api: Api, linked: str
) -> None:
    key, name = str(uuid.uuid4()), f"Racing Vendor {uuid.uuid4().hex[:6]}"
    await api.sim.post("/_sim/faults", json={"latency_ms": 300})
    before = (await api.sim_stats())["requests"]

    answers = await asyncio.gather(
        *(
            api.client.post("/proxy/v3/vendors", headers=_headers(linked, key), json=_vendor(name))
            for _ in range(6)
        )
    )

    assert {answer.status_code for answer in answers} <= {200, 201}
    assert len({answer.content for answer in answers}) == 1
    assert sum(answer.headers.get("idempotent-replayed") == "true" for answer in answers) == 5
    assert (await api.sim_stats())["requests"] == before + 1
    assert await _vendors_named(api, name) == 1


async def test_the_key_reaches_bill_in_neither_form(api: Api, linked: str, sim_app: Starlette) -> None:
    for prefixed in (False, True):
        key = str(uuid.uuid4())
        headers = _headers(linked, key, prefixed=prefixed)
        first = await api.client.post("/proxy/v3/vendors", headers=headers, json=_vendor(key))
        again = await api.client.post("/proxy/v3/vendors", headers=headers, json=_vendor(key))
        assert first.status_code in (200, 201), first.text
        assert again.headers["idempotent-replayed"] == "true"
    seen: list[set[str]] = sim_app.state.seen_headers
    assert seen
    assert not any("idempotency-key" in names or "nango-proxy-idempotency-key" in names for names in seen)


def test_the_key_is_read_and_never_forwarded() -> None:
    ids = [(b"connection-id", b"c"), (b"provider-config-key", b"bill-sandbox")]
    call = read_headers([*ids, (b"nango-proxy-idempotency-key", b"k-1"), (b"nango-proxy-x-trace", b"t")])
    assert call.idempotency_key == "k-1"
    assert call.forward == {"x-trace": "t"}


async def test_bill_error_answers_are_kept_and_replayed(api: Api, linked: str) -> None:
    key = str(uuid.uuid4())
    first = await api.client.post("/proxy/v3/vendors", headers=_headers(linked, key), json={"name": ""})
    requests = (await api.sim_stats())["requests"]

    again = await api.client.post("/proxy/v3/vendors", headers=_headers(linked, key), json={"name": ""})

    assert first.status_code == 400, first.text
    assert (again.status_code, again.content) == (400, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert (await api.sim_stats())["requests"] == requests


async def test_a_request_that_never_reached_bill_frees_its_key(api: Api, linked: str) -> None:
    key, name = str(uuid.uuid4()), f"Retried Vendor {uuid.uuid4().hex[:6]}"
    refused = await api.client.post(
        "/proxy/v3/vendors", headers={**_headers(linked, key), "Retries": "11"}, json=_vendor(name)
    )

    retried = await api.client.post("/proxy/v3/vendors", headers=_headers(linked, key), json=_vendor(name))

    assert refused.status_code == 400
    assert retried.status_code in (200, 201), retried.text
    assert "idempotent-replayed" not in retried.headers
    assert await _vendors_named(api, name) == 1


async def test_reads_ignore_the_key(api: Api, linked: str) -> None:
    key = str(uuid.uuid4())
    for _ in range(2):
        read = await api.client.get("/proxy/v3/vendors", params={"max": "1"}, headers=_headers(linked, key))
        assert read.status_code == 200
        assert "idempotent-replayed" not in read.headers


async def test_keys_belong_to_one_connection(api: Api, demo_form: Form, linked: str) -> None:
    other = await api.linked(demo_form())
    key, name = str(uuid.uuid4()), f"Shared Key Vendor {uuid.uuid4().hex[:6]}"

    for connection_id in (linked, other):
        answer = await api.client.post(
            "/proxy/v3/vendors", headers=_headers(connection_id, key), json=_vendor(name)
        )
        assert "idempotent-replayed" not in answer.headers

    assert await _vendors_named(api, name) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "clé-1", "tab\tkey"])
async def test_an_unusable_key_is_a_400_naming_the_header(api: Api, linked: str, key: str) -> None:
    headers = {**{k: v.encode() for k, v in _headers(linked).items()}, "Idempotency-Key": key.encode()}
    answer = await api.client.post("/proxy/v3/vendors", headers=headers)

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_headers"
    assert error["errors"][0]["path"] == ["Idempotency-Key"]


async def test_after_24_hours_the_key_is_new_again(api: Api, linked: str) -> None:
    now = [datetime.now(UTC)]
    runtime = api.runtime
    runtime.idempotency = IdempotentRequests(
        IdempotencyRepository(runtime.db, runtime.keyring, clock=lambda: now[0])
    )
    key, name = str(uuid.uuid4()), f"Daily Vendor {uuid.uuid4().hex[:6]}"
    send = lambda: api.client.post("/proxy/v3/vendors", headers=_headers(linked, key), json=_vendor(name))  # noqa: E731

    await send()
    now[0] += timedelta(hours=23, minutes=59)
    replayed = await send()
    now[0] += timedelta(minutes=1)
    fresh = await send()

    assert replayed.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in fresh.headers
    assert await _vendors_named(api, name) == 2


# BILL's answers up to 64 KiB come whole, larger ones are streamed: the cap holds for both.
@pytest.mark.parametrize("short_name", ["x" * 200, "x" * 300_000], ids=["read whole", "streamed"])
async def test_an_answer_over_the_cap_reaches_the_first_caller_only(
    api: Api, linked: str, short_name: str
) -> None:
    runtime = api.runtime
    runtime.idempotency = IdempotentRequests(runtime.idempotency.repository, answer_cap=64)
    key, name = str(uuid.uuid4()), f"Large Vendor {uuid.uuid4().hex[:6]}"
    body = {**_vendor(name), "shortName": short_name}

    first = await api.client.post("/proxy/v3/vendors", headers=_headers(linked, key), json=body)
    again = await api.client.post("/proxy/v3/vendors", headers=_headers(linked, key), json=body)

    assert first.status_code in (200, 201), first.text
    assert first.json()["shortName"] == short_name
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "idempotent_answer_not_kept"
    assert await _vendors_named(api, name) == 1


async def test_the_server_purges_expired_keys_on_its_own(api: Api, linked: str) -> None:
    runtime = api.runtime
    past = IdempotencyRepository(
        runtime.db, runtime.keyring, clock=lambda: datetime.now(UTC) - timedelta(days=2)
    )
    conn = await runtime.connections.get(linked, "bill-sandbox")
    assert conn is not None
    await past.claim(conn.pk, "forgotten-key", "req")

    for _ in range(100):
        async with runtime.db.session() as session:
            left = (await session.execute(select(IdempotencyRow))).first()
        if left is None:
            break
        await asyncio.sleep(0.05)
    assert left is None
