"""What the proxy must never pass to BILL (or back): odd methods, nameless headers, ';' segments,
BILL's Date and Server headers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from web_harness import PUBLIC_URL, SECRET_KEY, Api, make_settings

from billbridge.cli.demo import demo_credentials
from billbridge.simulator import SimConfig
from billbridge.simulator import create_app as create_sim_app
from billbridge.web import create_app
from fixtures_db import TEST_KEY_LINE
from support.processes import serve_in_thread

Form = Callable[..., dict[str, str]]
ALLOWED = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def _ids(connection_id: str) -> dict[str, str]:
    return {"Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"}


@pytest.fixture
async def linked(api: Api, demo_form: Form) -> str:
    return await api.linked(demo_form())


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "HEAD", "OPTIONS", "PROPFIND", "FOO"])
async def test_only_bills_methods_are_proxied(api: Api, linked: str, method: str) -> None:
    before = (await api.sim_stats())["requests"]

    response = await api.client.request(method, "/proxy/v3/vendors", headers=_ids(linked))

    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == ALLOWED
    if method != "HEAD":
        assert response.json()["error"]["code"] == "method_not_allowed"
    assert (await api.sim_stats())["requests"] == before, "nothing reached BILL"


async def test_a_header_without_a_name_is_refused(api: Api, linked: str) -> None:
    headers = [*_ids(linked).items(), ("Nango-Proxy-", "smuggled")]

    response = await api.client.get("/proxy/v3/vendors", headers=headers)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_headers"
    assert "Nango-Proxy-" in error["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/v3/login;x=1",
        "/v3/login%3B",
        "/v3/login%3b",
        "/v3/logout;",
        "/v3/..;/v3/login",
        "/v3/vendors;jsessionid=1",
        "/v3/vendors/%253B",
    ],
)
async def test_semicolons_in_segments_are_refused(api: Api, linked: str, path: str) -> None:
    before = await api.sim_stats()

    response = await api.client.get("/proxy" + path, headers=_ids(linked))

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_proxy_path"
    after = await api.sim_stats()
    assert (after["requests"], after["logins"]) == (before["requests"], before["logins"])


@pytest.fixture(scope="module")
def live_sim() -> Iterator[str]:
    """A simulator behind uvicorn, which adds its own Date and Server headers as BILL's servers do."""
    app = create_sim_app(SimConfig(records=5, organizations=1))
    with serve_in_thread(app, access_log=False, timeout_graceful_shutdown=2) as url:
        yield url


@pytest.fixture
async def live_api(
    live_sim: str, sqlite_database_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        tmp_path,
        database_url=sqlite_database_url,
        encryption_key=SecretStr(TEST_KEY_LINE),
        bill_sandbox_url=live_sim,
    )
    app = create_app(settings)
    auth = {"Authorization": f"Bearer {SECRET_KEY}"}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL, headers=auth) as client,
    ):
        yield client


async def test_bills_date_and_server_headers_are_dropped(live_api: httpx.AsyncClient, live_sim: str) -> None:
    async with httpx.AsyncClient(base_url=live_sim) as sim:
        world = (await sim.get("/_sim/world")).json()
        direct = await sim.get("/_sim/world")
    # What BILL's answers carry too.
    assert "date" in direct.headers
    assert "server" in direct.headers
    form = demo_credentials(world)
    token = (await live_api.post("/connect/sessions", json={"end_user": {"id": "u1"}})).json()["data"][
        "token"
    ]
    linked = await live_api.post(
        "/auth/bill/bill-sandbox", params={"connect_session_token": token}, json=form
    )
    assert linked.status_code == 200, linked.text

    response = await live_api.get("/proxy/v3/vendors", headers=_ids(linked.json()["connectionId"]))

    assert response.status_code == 200
    # The server in front of billbridge adds its own Date; BILL's would make a second one.
    assert "date" not in response.headers
    assert "server" not in response.headers
