"""Helpers of the simulator's own tests: signing in and reading error answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from billbridge.simulator import SimConfig, create_app

#: 2025-01-15T12:00:00Z, a frozen start for tests that count seconds exactly.
FROZEN_START = 1_736_942_400.0


@dataclass
class Demo:
    """The first organization's admin, signed in with the first developer key."""

    http: httpx.AsyncClient
    world: dict[str, Any]
    org_id: str
    user: dict[str, Any]
    dev_key: str
    login: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        """``devKey`` + ``sessionId`` of the session."""
        return {"devKey": self.dev_key, "sessionId": self.login["sessionId"]}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        """``GET /connect/v3{path}`` in the session."""
        return await self.http.get(f"/connect/v3{path}", headers=self.headers, params=params)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        """``POST /connect/v3{path}`` in the session."""
        return await self.http.post(f"/connect/v3{path}", headers=self.headers, json=body or {})

    async def patch(self, path: str, body: Any) -> httpx.Response:
        """``PATCH /connect/v3{path}`` in the session."""
        return await self.http.patch(f"/connect/v3{path}", headers=self.headers, json=body)

    async def put(self, path: str, body: Any) -> httpx.Response:
        """``PUT /connect/v3{path}`` in the session."""
        return await self.http.put(f"/connect/v3{path}", headers=self.headers, json=body)


def credentials(world: dict[str, Any], *, org: int = 0, user: int = 0, key: int = 0) -> dict[str, str]:
    """A ``POST /v3/login`` body from the world."""
    organization = world["organizations"][org]
    person = organization["users"][user]
    return {
        "username": person["username"],
        "password": person["password"],
        "organizationId": organization["id"],
        "devKey": world["dev_keys"][key]["key"],
    }


async def sign_in(http: httpx.AsyncClient, world: dict[str, Any], **which: int) -> Demo:
    """Log in (org/user/key indexes in ``which``) and return the session helper."""
    body = credentials(world, **which)
    response = await http.post("/connect/v3/login", json=body)
    assert response.status_code == 200, response.text
    org = world["organizations"][which.get("org", 0)]
    return Demo(http, world, org["id"], org["users"][which.get("user", 0)], body["devKey"], response.json())


def error_code(response: httpx.Response) -> str:
    """The BDC code of an error answer (BILL's list of error objects)."""
    body = response.json()
    assert isinstance(body, list), body
    code: str = body[0]["code"]
    return code


@asynccontextmanager
async def client_for(config: SimConfig) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of a fresh simulator built from ``config``."""
    transport = httpx.ASGITransport(app=create_app(config))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        yield http
