"""BILL's hourly budgets surface as 429 with Retry-After, on the proxy and on linking."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from web_harness import Api

from billbridge.simulator import SimConfig

Form = Callable[..., dict[str, str]]


@pytest.fixture
def sim_config() -> SimConfig:
    # A login counts as a request: one login plus two calls spend the whole hour.
    return SimConfig(records=5, seed=7, organizations=1, request_budget=3, login_budget=2)


async def test_spent_request_budget_is_429_with_retry_after(api: Api, demo_form: Form) -> None:
    connection_id = await api.linked(demo_form())
    headers = {"Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"}

    statuses = [(await api.client.get("/proxy/v3/vendors", headers=headers)).status_code for _ in range(2)]
    limited = await api.client.get("/proxy/v3/vendors", headers=headers)

    assert statuses == [200, 200]
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "BDC_1144"
    assert 1 <= int(limited.headers["Retry-After"]) <= 3600


async def test_spent_login_budget_refuses_a_link_with_429(api: Api, demo_form: Form) -> None:
    await api.linked(demo_form())
    await api.link(demo_form(password="wrong"))

    response = await api.link(demo_form())

    assert response.status_code == 429
    assert "hourly sign-in limit" in response.json()["error"]["message"]
    assert int(response.headers["Retry-After"]) >= 1
    assert await api.count_connections() == 1
