"""Body size caps: 413 with the error envelope, counted while the body streams in.

The huge bodies below are produced on demand by an ASGI ``receive``; the test counts how much of
them the app pulled, which proves a refused body is never buffered beyond the cap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from web_harness import SECRET_KEY, Api

from support.processes import serve_in_thread

Form = Callable[..., dict[str, str]]
CHUNK = 16 * 1024
API_LIMIT = 64 * 1024
PROXY_LIMIT = 128 * 1024
BODY_SIZE = 8 * 1024 * 1024


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_body_bytes": API_LIMIT, "proxy_max_body_bytes": PROXY_LIMIT}


@dataclass
class Endless:
    """An ASGI request with a far larger body than any cap (it ends, so that an app without a cap
    answers instead of reading forever); records what the app pulled and answered."""

    pulled: int = 0
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    async def receive(self) -> dict[str, Any]:
        if self.pulled >= BODY_SIZE:
            return {"type": "http.disconnect"}
        self.pulled += CHUNK
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": self.pulled < BODY_SIZE}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = orjson.loads(self.body)["error"]
        return error


async def _call(api: Api, method: str, path: str, headers: dict[str, str], query: str = "") -> Endless:
    request = Endless()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 3003),
        "app": api.app,
    }
    await api.app(scope, request.receive, request.send)
    return request


def _assert_refused(request: Endless, limit: int) -> None:
    assert request.status == 413
    error = request.error()
    assert error["code"] == "payload_too_large"
    assert str(limit) in error["message"]
    # At most the cap plus the chunk that crossed it was read.
    assert request.pulled <= limit + CHUNK


async def test_an_endless_chunked_body_to_the_link_route_is_cut_at_the_cap(api: Api) -> None:
    token = await api.connect_session()
    headers = {"content-type": "application/json", "transfer-encoding": "chunked"}

    request = await _call(api, "POST", "/auth/bill/bill-sandbox", headers, f"connect_session_token={token}")

    _assert_refused(request, API_LIMIT)


async def test_a_body_longer_than_its_content_length_claims_is_cut_at_the_cap(api: Api) -> None:
    headers = {
        "authorization": f"Bearer {SECRET_KEY}",
        "content-type": "application/json",
        "content-length": "100",
    }

    request = await _call(api, "POST", "/connect/sessions", headers)

    _assert_refused(request, API_LIMIT)


async def test_a_declared_length_over_the_cap_is_refused_before_reading(api: Api) -> None:
    headers = {"authorization": f"Bearer {SECRET_KEY}", "content-length": str(400 * 1024 * 1024)}

    request = await _call(api, "PATCH", "/connections/x", headers, "provider_config_key=bill-sandbox")

    assert request.status == 413
    assert request.pulled == 0


async def test_an_endless_body_to_the_proxy_is_cut_at_the_proxy_cap(api: Api, demo_form: Form) -> None:
    connection_id = await api.linked(demo_form())
    before = (await api.sim_stats())["requests"]
    headers = {
        "authorization": f"Bearer {SECRET_KEY}",
        "connection-id": connection_id,
        "provider-config-key": "bill-sandbox",
        "content-type": "application/json",
    }

    request = await _call(api, "POST", "/proxy/v3/vendors", headers)

    _assert_refused(request, PROXY_LIMIT)
    assert (await api.sim_stats())["requests"] == before, "nothing reached BILL"


async def test_bodies_under_the_caps_pass(api: Api, demo_form: Form) -> None:
    connection_id = await api.linked(demo_form())
    ids = {"Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"}
    vendor = {"name": "Roomy Vendor", "accountType": "BUSINESS", "description": "d" * (API_LIMIT + 1)}
    metadata = {"connection_id": connection_id, "provider_config_key": "bill-sandbox", "metadata": {"a": "b"}}

    proxied = await api.client.post("/proxy/v3/vendors", headers=ids, json=vendor)
    stored = await api.client.post("/connections/metadata", json=metadata)

    assert proxied.status_code != 413
    assert stored.status_code == 201
    too_big = await api.client.post(
        "/connections/metadata", json={**metadata, "metadata": {"a": "b" * API_LIMIT}}
    )
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "payload_too_large"


@pytest.fixture
def served(api: Api) -> Iterator[str]:
    """The same app behind a real HTTP server (its lifespan is already running)."""
    with serve_in_thread(api.app, access_log=False) as url:
        yield url


async def test_a_real_server_answers_413_to_a_streamed_body(api: Api, served: str) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        while sent < 50 * 1024 * 1024:
            sent += CHUNK
            yield b"x" * CHUNK

    token = await api.connect_session()
    with httpx.Client(base_url=served, timeout=30) as client:
        try:
            response = client.post(
                "/auth/bill/bill-sandbox",
                params={"connect_session_token": token},
                headers={"content-type": "application/json"},
                content=chunks(),
            )
        except httpx.TransportError:
            pytest.fail("the server must answer 413, not drop the connection")

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert sent < 50 * 1024 * 1024
