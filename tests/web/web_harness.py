"""The API test harness: billbridge's app on in-process simulators, and a real webhook receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select

from billbridge.bill import HttpxTransport
from billbridge.connections import Integration
from billbridge.runtime import Runtime, SyncRole
from billbridge.settings import Settings, get_settings
from billbridge.store.models import ConnectionRow
from billbridge.web import create_app

SECRET_KEY = "bb-test-secret-key-7f3a9c1e-5d20b84f6a"
PUBLIC_URL = "http://bb.test"
SANDBOX_GATEWAY = "http://sim.test"
PRODUCTION_GATEWAY = "http://production.test"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for one test: its own data directory, a known secret key, simulator gateways."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "secret_key": SecretStr(SECRET_KEY),
        "public_url": PUBLIC_URL,
        "bill_sandbox_url": SANDBOX_GATEWAY,
        "bill_production_url": PRODUCTION_GATEWAY,
    }
    values.update(overrides)
    return get_settings(**values)


@dataclass
class Api:
    """A running app and clients for it."""

    app: FastAPI
    client: httpx.AsyncClient
    anon: httpx.AsyncClient
    sim: httpx.AsyncClient

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    async def connect_session(self, **body: Any) -> str:
        """A new connect session token (end user ``u1`` unless the body says otherwise)."""
        body.setdefault("end_user", {"id": "u1", "email": "jane@example.com", "display_name": "Jane"})
        response = await self.client.post("/connect/sessions", json=body)
        assert response.status_code == 201, response.text
        token: str = response.json()["data"]["token"]
        return token

    async def link(
        self, form: Any, *, token: str | None = None, key: str = "bill-sandbox", **params: str
    ) -> httpx.Response:
        """``POST /auth/bill/{key}`` as the frontend SDK sends it (no Authorization header)."""
        token = token or await self.connect_session()
        return await self.anon.post(
            f"/auth/bill/{key}", params={"connect_session_token": token, **params}, json=form
        )

    async def linked(self, form: Any, **session: Any) -> str:
        """Link ``form`` and return the new connection id."""
        response = await self.link(form, token=await self.connect_session(**session))
        assert response.status_code == 200, response.text
        connection_id: str = response.json()["connectionId"]
        return connection_id

    async def store_wrong_password(self, connection_id: str, key: str = "bill-sandbox") -> None:
        """Make the stored password one BILL refuses, as if it had been changed in BILL since."""
        stored = await self.runtime.connections.get(connection_id, key)
        assert stored is not None
        wrong = replace(stored.credentials, password=SecretStr("changed-since"))
        await self.runtime.connections.update_credentials(stored.pk, wrong)
        self.runtime.keeper.forget(stored.pk)

    async def count_connections(self) -> int:
        """Rows in the connections table (to prove a failure stored nothing)."""
        async with self.runtime.db.session() as session:
            return int((await session.execute(select(func.count()).select_from(ConnectionRow))).scalar_one())

    async def sim_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = (await self.sim.get("/_sim/stats")).json()
        return stats


@asynccontextmanager
async def running_app(
    settings: Settings, *, sandbox: Any, production: Any, sync_role: SyncRole = "none"
) -> AsyncIterator[Api]:
    """``create_app`` with each integration's BILL transport going to its in-process simulator.

    ``sync_role="api"`` launches the sync engine with the app, as ``billbridge serve`` does.
    """

    def transport(integration: Integration) -> HttpxTransport:
        target = sandbox if integration.environment == "sandbox" else production
        return HttpxTransport(httpx.AsyncClient(transport=httpx.ASGITransport(app=target)))

    app = create_app(settings, transport_factory=transport, sync_role=sync_role)
    auth = {"Authorization": f"Bearer {SECRET_KEY}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL, headers=auth
        ) as client,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL) as anon,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url=SANDBOX_GATEWAY) as sim,
    ):
        yield Api(app=app, client=client, anon=anon, sim=sim)


@dataclass
class Received:
    """One webhook as it arrived."""

    body: bytes
    headers: dict[str, str]


@dataclass
class WebhookReceiver:
    """An aiohttp server on 127.0.0.1 that records every POST; it can refuse the first N."""

    url: str = ""
    refuse_first: int = 0
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.attempts <= self.refuse_first:
            return web.Response(status=503)
        body = await request.read()
        async with self._arrived:
            self.received.append(Received(body=body, headers=dict(request.headers)))
            self._arrived.notify_all()
        return web.Response(status=200)

    async def wait_for(self, count: int, *, timeout: float = 20.0) -> list[Received]:
        """Wait until ``count`` webhooks arrived (fails the test after ``timeout`` seconds)."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
        return list(self.received)

    @classmethod
    @asynccontextmanager
    async def running(cls, *, refuse_first: int = 0) -> AsyncIterator[WebhookReceiver]:
        receiver = cls(refuse_first=refuse_first)
        app = web.Application()
        app.router.add_post("/{tail:.*}", receiver._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        receiver.url = f"http://127.0.0.1:{port}/hooks"
        try:
            yield receiver
        finally:
            await runner.cleanup()
