"""/proxy/{path}: headers, auth injection, pass-through of BILL's answers, and refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from web_harness import PUBLIC_URL, SANDBOX_GATEWAY, SECRET_KEY, Api, make_settings

from billbridge.simulator import SimConfig
from billbridge.simulator import create_app as create_sim_app
from billbridge.web import create_app
from billbridge.web.api.proxy import query_pairs
from fixtures_db import TEST_KEY_LINE
from support.processes import serve_in_thread

Form = Callable[..., dict[str, str]]
BULKY = {"name": "Bulky Vendor", "description": "x" * 70_000}  # 40 of them: a page of ~2.8 MB


def _ids(connection_id: str, key: str = "bill-sandbox") -> dict[str, str]:
    return {"Connection-Id": connection_id, "Provider-Config-Key": key}


@pytest.fixture
async def linked(api: Api, demo_form: Form) -> str:
    return await api.linked(demo_form())


async def test_get_vendors_through_the_proxy(api: Api, linked: str) -> None:
    response = await api.client.get("/proxy/v3/vendors", params={"max": "5"}, headers=_ids(linked))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert len(body["results"]) == 5
    assert all(vendor["id"].startswith("009") for vendor in body["results"])
    assert (await api.sim_stats())["logins"] == 1


async def test_post_creates_and_the_object_can_be_read_back(api: Api, linked: str) -> None:
    created = await api.client.post(
        "/proxy/v3/vendors",
        headers=_ids(linked),
        json={
            "name": "Proxy Vendor Ltd",
            "accountType": "BUSINESS",
            "email": "ap@proxy.example",
            "phone": "5550100",
        },
    )
    assert created.status_code in (200, 201), created.text
    vendor_id = created.json()["id"]

    read = await api.client.get(f"/proxy/v3/vendors/{vendor_id}", headers=_ids(linked))

    assert read.status_code == 200
    assert read.json()["name"] == "Proxy Vendor Ltd"


async def test_bill_errors_pass_through_with_their_status(api: Api, linked: str) -> None:
    response = await api.client.get("/proxy/v3/vendors/00900000000000000000", headers=_ids(linked))

    assert response.status_code == 404
    assert response.json()[0]["code"].startswith("BDC_")


async def test_nango_proxy_headers_are_forwarded_and_caller_auth_is_replaced(api: Api, linked: str) -> None:
    headers = {**_ids(linked), "Nango-Proxy-sessionId": "stale-session", "Nango-Proxy-devKey": "stale-key"}

    response = await api.client.get("/proxy/v3/vendors", params={"max": "1"}, headers=headers)

    assert response.status_code == 200


async def test_expired_session_is_renewed_once_and_the_call_replayed(api: Api, linked: str) -> None:
    await api.sim.post("/_sim/sessions/invalidate", json={})

    response = await api.client.get("/proxy/v3/vendors", params={"max": "1"}, headers=_ids(linked))

    assert response.status_code == 200
    assert (await api.sim_stats())["logins"] == 2


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Provider-Config-Key": "bill-sandbox"}, 400, "invalid_headers"),
        ({"Connection-Id": "x"}, 400, "invalid_headers"),
        ({"Connection-Id": "ghost", "Provider-Config-Key": "bill-sandbox"}, 400, "unknown_connection"),
        ({"Connection-Id": "ghost", "Provider-Config-Key": "xero"}, 404, "unknown_provider_config"),
    ],
)
async def test_identification_errors(api: Api, headers: dict[str, str], status: int, code: str) -> None:
    response = await api.client.get("/proxy/v3/vendors", headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_bad_control_headers_are_400(api: Api, linked: str) -> None:
    for extra in ({"Retries": "many"}, {"Decompress": "perhaps"}, {"Retry-On": "429,abc"}, {"Retries": "50"}):
        response = await api.client.get("/proxy/v3/vendors", headers={**_ids(linked), **extra})
        assert response.status_code == 400, extra
        assert response.json()["error"]["code"] == "invalid_headers"


async def test_base_url_override_only_to_the_configured_gateway(api: Api, linked: str) -> None:
    same = await api.client.get(
        "/proxy/v3/vendors",
        params={"max": "1"},
        headers={**_ids(linked), "Base-Url-Override": SANDBOX_GATEWAY},
    )
    elsewhere = await api.client.get(
        "/proxy/v3/vendors", headers={**_ids(linked), "Base-Url-Override": "https://evil.example.com"}
    )
    empty = await api.client.get(
        "/proxy/v3/vendors", params={"max": "1"}, headers={**_ids(linked), "Base-Url-Override": ""}
    )

    assert same.status_code == 200
    assert elsewhere.status_code == 400
    assert empty.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/proxy/v3/%2e%2e/%2e%2e/_sim/world",
        "/proxy/v3/vendors/..%2F..%2F_sim",
        "/proxy/v2/x",
        "/proxy/v3/logout",
    ],
)
async def test_paths_cannot_leave_the_api(api: Api, linked: str, path: str) -> None:
    response = await api.client.get(path, headers=_ids(linked))
    assert response.status_code == 400


async def test_proxy_needs_the_secret_key(api: Api, linked: str) -> None:
    response = await api.anon.get("/proxy/v3/vendors", headers=_ids(linked))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_auth_header"


async def test_patch_and_delete_methods_pass_through(api: Api, linked: str) -> None:
    first = (await api.client.get("/proxy/v3/vendors", params={"max": "1"}, headers=_ids(linked))).json()
    vendor_id = first["results"][0]["id"]

    patched = await api.client.patch(
        f"/proxy/v3/vendors/{vendor_id}", headers=_ids(linked), json={"shortName": "Patched"}
    )
    read = await api.client.get(f"/proxy/v3/vendors/{vendor_id}", headers=_ids(linked))
    removed = await api.client.delete(f"/proxy/v3/vendors/{vendor_id}", headers=_ids(linked))

    assert patched.status_code == 200, patched.text
    assert read.json()["shortName"] == "Patched"
    # BILL archives instead of deleting vendors; its own refusal comes back as it was sent.
    assert removed.status_code == 404
    assert removed.json()[0]["code"] == "BDC_1121"


async def test_a_large_answer_passes_the_in_process_transport_too(api: Api, linked: str) -> None:
    added = await api.sim.post(
        "/_sim/objects", json={"action": "add", "family": "vendors", "count": 30, "fields": BULKY}
    )
    added.raise_for_status()

    response = await api.client.get("/proxy/v3/vendors", params={"max": "100"}, headers=_ids(linked))

    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content) > 2_000_000
    bulky = [v for v in response.json()["results"] if v["name"] == "Bulky Vendor"]
    assert len(bulky) == 30
    assert all(v["description"] == BULKY["description"] for v in bulky)


# --- streaming: the default aiohttp transport against a simulator on a loopback port -----------


@pytest.fixture(scope="module")
def live_sim() -> Iterator[str]:
    """A simulator served by uvicorn in a background thread; yields its gateway root."""
    app = create_sim_app(SimConfig(records=5, organizations=1))
    with serve_in_thread(app, access_log=False, timeout_graceful_shutdown=2) as url:
        yield url


@dataclass
class Live:
    """billbridge's app (default aiohttp transport) pointed at the live simulator, one linked org."""

    app: Any
    sim: httpx.AsyncClient
    connection_id: str
    dev_key: str
    organization_id: str

    def in_flight(self) -> int:
        return int(self.app.state.runtime.clients.limits.in_flight(self.dev_key, self.organization_id))


@pytest.fixture
async def live(live_sim: str, sqlite_database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    settings = make_settings(
        tmp_path,
        database_url=sqlite_database_url,
        encryption_key=SecretStr(TEST_KEY_LINE),
        bill_sandbox_url=live_sim,
    )
    app = create_app(settings)
    auth = {"Authorization": f"Bearer {SECRET_KEY}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL, headers=auth) as api,
        httpx.AsyncClient(base_url=live_sim) as sim,
    ):
        (await sim.post("/_sim/reset")).raise_for_status()
        world = (await sim.get("/_sim/world")).json()
        org, key = world["organizations"][0], world["dev_keys"][0]["key"]
        added = await sim.post(
            "/_sim/objects", json={"action": "add", "family": "vendors", "count": 40, "fields": BULKY}
        )
        added.raise_for_status()
        token = (await api.post("/connect/sessions", json={"end_user": {"id": "u1"}})).json()["data"]["token"]
        form = {"username": org["users"][0]["username"], "password": org["users"][0]["password"]}
        linked = await api.post(
            "/auth/bill/bill-sandbox",
            params={"connect_session_token": token},
            json={**form, "organization_id": org["id"], "dev_key": key},
        )
        assert linked.status_code == 200, linked.text
        yield Live(app, sim, linked.json()["connectionId"], key, org["id"])


@dataclass
class Caller:
    """Drives the ASGI app as a server would, recording what it sends; can leave mid-body."""

    leave_after_chunks: int | None = None
    started: dict[str, Any] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    completed: bool = False
    sends_after_leaving: int = 0
    _gone: asyncio.Event = field(default_factory=asyncio.Event)
    _asked: bool = False

    async def receive(self) -> dict[str, Any]:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if self._gone.is_set():
            self.sends_after_leaving += 1
            return  # as uvicorn does once the client has left
        if message["type"] == "http.response.start":
            self.started = message
            return
        if message["body"]:
            self.chunks.append(message["body"])
        self.completed = not message.get("more_body", False)
        if self.completed:
            self._gone.set()  # servers report a disconnect once the response is over
        elif self.leave_after_chunks is not None and len(self.chunks) >= self.leave_after_chunks:
            self._gone.set()
            # The write yields long enough for the app to notice the disconnect and stop relaying.
            await asyncio.sleep(0.2)

    async def get(self, app: Any, live: Live, query: bytes = b"max=100") -> None:
        headers = [
            (b"authorization", f"Bearer {SECRET_KEY}".encode()),
            (b"connection-id", live.connection_id.encode()),
            (b"provider-config-key", b"bill-sandbox"),
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/proxy/v3/vendors",
            "raw_path": b"/proxy/v3/vendors",
            "query_string": query,
            "root_path": "",
            "headers": headers,
            "server": ("bb.test", 80),
            "client": ("127.0.0.1", 5000),
            "app": app,
        }
        async with asyncio.timeout(30):
            await app(scope, self.receive, self.send)


async def test_a_large_answer_streams_through_the_proxy_intact(live: Live) -> None:
    direct = await live.sim.get("/_sim/objects", params={"family": "vendors"})
    caller = Caller()
    await caller.get(live.app, live)

    body = b"".join(caller.chunks)
    assert caller.started["status"] == 200
    assert caller.completed
    declared = dict(caller.started["headers"])[b"content-length"]
    assert int(declared) == len(body) > 2_000_000
    assert [v["id"] for v in httpx.Response(200, content=body).json()["results"]] == [
        v["id"] for v in direct.json()["results"]
    ][:100]
    # Relayed as it came, never held whole: many writes, none near the size of the body.
    assert len(caller.chunks) >= 4
    assert max(len(chunk) for chunk in caller.chunks) < len(body) // 4
    assert live.in_flight() == 0


async def test_a_caller_leaving_mid_body_frees_the_slot(live: Live) -> None:
    caller = Caller(leave_after_chunks=1)
    await caller.get(live.app, live)

    assert caller.started["status"] == 200
    assert not caller.completed
    assert len(caller.chunks) == 1
    assert caller.sends_after_leaving == 0  # the relay stopped: BILL's body was not read on
    assert live.in_flight() == 0
    again = Caller()
    await again.get(live.app, live, query=b"max=1")
    assert again.completed
    assert again.started["status"] == 200


async def test_small_and_error_answers_are_sent_whole(live: Live) -> None:
    small = Caller()
    await small.get(live.app, live, query=b"max=1")
    missing = Caller()
    await missing.get(live.app, live, query=b"max=1000")

    assert len(small.chunks) == 1
    assert missing.started["status"] == 400
    assert len(missing.chunks) == 1
    assert b"BDC_" in missing.chunks[0]
    assert live.in_flight() == 0


@pytest.mark.parametrize(
    "query",
    ["", "max=20", "a=1&a=2&&b", "filters=name:eq:%22A%26B%22&sort=name:asc", "q=a+b&x=", "=v&k"],
)
def test_query_pairs_agree_with_parse_qsl(query: str) -> None:
    assert query_pairs(query) == parse_qsl(query, keep_blank_values=True)


@given(st.text(alphabet="ab=&;:,. ", max_size=30))
def test_query_pairs_agree_with_parse_qsl_on_any_plain_query(query: str) -> None:
    assert query_pairs(query) == parse_qsl(query, keep_blank_values=True)
