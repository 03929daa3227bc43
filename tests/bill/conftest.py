"""Fixtures of the BILL client tests: clients over httpx.MockTransport handlers."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from billbridge.bill import BillClient, HttpxTransport, Limits, RetryPolicy, SessionAuth, environment

Handler = Callable[[httpx.Request], httpx.Response]
GATEWAY = "https://gateway.test"
# 2030-01-01T10:20:00Z: a fixed clock, 40 minutes past the hour.
FIXED_NOW = 1893493200.0


def recording(status: int = 200, **answer: Any) -> tuple[list[httpx.Request], Handler]:
    """A handler that keeps every request it gets and answers each ``httpx.Response(status, **answer)``."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, **answer)

    return seen, handler


def bill_error(code: str, message: str = "", *, status: int = 400) -> httpx.Response:
    """An error answer shaped as BILL's list of error objects."""
    body = [
        {
            "timestamp": "2030-01-01T10:20:00.000+00:00",
            "code": code,
            "severity": "ERROR",
            "category": "REQUEST",
            "message": message or f"message of {code}",
        }
    ]
    return httpx.Response(status, content=orjson.dumps(body))


class Sleeps:
    """Records the delays the client asked to sleep, without sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


MockClientFactory = Callable[..., Awaitable[tuple[BillClient, Sleeps]]]


@pytest.fixture
async def mock_client() -> AsyncIterator[MockClientFactory]:
    """Build a BillClient whose every request goes to ``handler``; sleeps are recorded only."""
    clients: list[BillClient] = []

    async def build(handler: Handler, **options: Any) -> tuple[BillClient, Sleeps]:
        sleeps = Sleeps()
        options.setdefault("limits", Limits(clock=lambda: FIXED_NOW))
        options.setdefault("retry_policy", RetryPolicy(base_delay=0.5, max_delay=8.0))
        options.setdefault("rng", random.Random(1))
        client = BillClient(
            environment("sandbox", GATEWAY),
            transport=HttpxTransport(httpx.AsyncClient(transport=httpx.MockTransport(handler))),
            sleep=options.pop("sleep", sleeps),
            **options,
        )
        clients.append(client)
        return client, sleeps

    yield build
    for client in clients:
        await client.transport.aclose()


# --- the in-process simulator -----------------------------------------------------------------


@dataclass(frozen=True)
class Demo:
    """The demo credentials of a simulated world (first organization, user, dev key)."""

    username: str
    password: str
    organization_id: str
    dev_key: str
    api_token: str

    def login_args(self, **changes: Any) -> dict[str, Any]:
        """Keyword arguments of ``BillClient.login`` for this user; ``changes`` replace or add some."""
        fields = {
            "username": self.username,
            "password": self.password,
            "organization_id": self.organization_id,
            "dev_key": self.dev_key,
        }
        return {**fields, **changes}


def demo_of(world: dict[str, Any]) -> Demo:
    """The demo credentials of a ``GET /_sim/world`` answer."""
    org = world["organizations"][0]
    user = org["users"][0]
    dev_key = next(k["key"] for k in world["dev_keys"] if org["id"] in k["organization_ids"])
    token = next(t["token"] for t in world["api_tokens"] if t["organization_id"] == org["id"])
    return Demo(
        username=user["username"],
        password=user["password"],
        organization_id=org["id"],
        dev_key=dev_key,
        api_token=token,
    )


@pytest.fixture
def demo(sim_world: dict[str, Any]) -> Demo:
    """The demo credentials of the ``sim_world``."""
    return demo_of(sim_world)


FAST_RETRIES = RetryPolicy(base_delay=0.001, max_delay=0.005)


def sim_bill_client(app: Starlette, **options: Any) -> BillClient:
    """A BillClient talking to the simulator ``app`` in-process (fast backoff)."""
    options.setdefault("retry_policy", FAST_RETRIES)
    transport = HttpxTransport(httpx.AsyncClient(transport=httpx.ASGITransport(app=app)))
    return BillClient(environment("sandbox", "http://sim"), transport=transport, **options)


@pytest.fixture
async def sim_client(sim_app: Starlette) -> AsyncIterator[BillClient]:
    """A BillClient over ``httpx.ASGITransport`` to ``sim_app``."""
    async with sim_bill_client(sim_app) as client:
        yield client


async def log_in(client: BillClient, demo: Demo, **changes: Any) -> SessionAuth:
    """Log ``demo`` in (``changes`` as for :meth:`Demo.login_args`); the new session's auth."""
    args = demo.login_args(**changes)
    return (await client.login(**args)).auth(args["dev_key"])


async def add_records(
    sim_http: httpx.AsyncClient, demo: Demo, family: str, fields: dict[str, Any], *, count: int = 1
) -> None:
    """Add ``count`` records of ``family`` with ``fields`` to the demo organization, via ``/_sim/objects``."""
    body = {
        "action": "add",
        "family": family,
        "organization_id": demo.organization_id,
        "fields": fields,
        "count": count,
    }
    (await sim_http.post("/_sim/objects", json=body)).raise_for_status()


async def sim_stats(sim_http: httpx.AsyncClient) -> dict[str, Any]:
    """The simulator's ``GET /_sim/stats`` counters."""
    answer: dict[str, Any] = (await sim_http.get("/_sim/stats")).json()
    return answer


@pytest.fixture
async def session(sim_client: BillClient, demo: Demo) -> SessionAuth:
    """A live session of the demo user."""
    return await log_in(sim_client, demo)
