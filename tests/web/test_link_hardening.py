"""Linking under stress: a hanging BILL meets one deadline, and a reconnect keeps its organization."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from web_harness import Api

Form = Callable[..., dict[str, str]]
DEADLINE = 1.0


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"link_timeout_seconds": DEADLINE}


async def test_a_hanging_bill_meets_one_deadline_for_the_link(api: Api, demo_form: Form) -> None:
    await api.sim.post("/_sim/faults", json={"timeout_rate": 1.0, "timeout_seconds": 3600})
    token = await api.connect_session()

    # Far below what the client's own retries take against a hanging BILL (minutes).
    async with asyncio.timeout(DEADLINE + 10):
        response = await api.link(demo_form(), token=token)

    assert response.status_code == 504
    error = response.json()["error"]
    assert error["code"] == "bill_timeout"
    assert "did not answer" in error["message"]
    assert await api.count_connections() == 0


async def test_a_slow_bill_within_the_deadline_still_links(api: Api, demo_form: Form) -> None:
    await api.sim.post("/_sim/faults", json={"latency_ms": 100})

    response = await api.link(demo_form())

    assert response.status_code == 200, response.text


async def _reconnect_token(api: Api, connection_id: str) -> str:
    response = await api.client.post(
        "/connect/sessions/reconnect", json={"connection_id": connection_id, "integration_id": "bill-sandbox"}
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["data"]["token"]
    return token


async def test_a_reconnect_must_relink_the_same_organization(
    api: Api, demo_form: Form, sim_world: dict[str, Any]
) -> None:
    connection_id = await api.linked(demo_form())
    other = sim_world["organizations"][1]
    user = other["users"][0]
    form = demo_form(username=user["username"], password=user["password"], organization_id=other["id"])
    logins = (await api.sim_stats())["logins"]

    response = await api.link(form, token=await _reconnect_token(api, connection_id))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "organization_mismatch"
    assert error["errors"][0]["path"] == ["organization_id"]
    assert demo_form()["organization_id"] in error["message"]
    stored = await api.runtime.connections.get(connection_id, "bill-sandbox")
    assert stored is not None
    assert stored.credentials.organization_id == demo_form()["organization_id"]
    assert (await api.sim_stats())["logins"] == logins, "BILL was not asked"


async def test_a_reconnect_of_the_same_organization_succeeds(api: Api, demo_form: Form) -> None:
    connection_id = await api.linked(demo_form())

    response = await api.link(demo_form(), token=await _reconnect_token(api, connection_id))

    assert response.status_code == 200, response.text
    assert response.json()["connectionId"] == connection_id
