"""The API on PostgreSQL: link, proxy (with cross-process in-flight leases), get, delete."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from web_harness import Api, make_settings, running_app

from billbridge.bill.limits import key_digest
from fixtures_db import TEST_KEY_LINE

pytestmark = pytest.mark.postgres

Form = Callable[..., dict[str, str]]


@pytest.fixture
async def pg_api(
    sim_app: Any, production_sim_app: Any, postgres_database_url: str, tmp_path: Path
) -> AsyncIterator[Api]:
    settings = make_settings(
        tmp_path, database_url=postgres_database_url, encryption_key=SecretStr(TEST_KEY_LINE)
    )
    async with running_app(settings, sandbox=sim_app, production=production_sim_app) as running:
        yield running


async def test_link_proxy_get_and_delete_on_postgres(pg_api: Api, demo_form: Form) -> None:
    assert pg_api.runtime.db.is_postgres
    connection_id = await pg_api.linked(demo_form())
    headers = {"Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"}

    vendors = await pg_api.client.get("/proxy/v3/vendors", params={"max": "2"}, headers=headers)
    key = {"provider_config_key": "bill-sandbox"}
    got = await pg_api.client.get(f"/connections/{connection_id}", params=key)
    deleted = await pg_api.client.delete(
        f"/connections/{connection_id}", params={"provider_config_key": "bill-sandbox"}
    )

    assert vendors.status_code == 200
    assert len(vendors.json()["results"]) == 2
    assert got.json()["credentials"]["organization_id"] == demo_form()["organization_id"]
    assert deleted.json() == {"success": True}
    assert await pg_api.count_connections() == 0


async def test_refused_link_stores_nothing_on_postgres(pg_api: Api, demo_form: Form) -> None:
    response = await pg_api.link(demo_form(password="wrong"))
    assert response.status_code == 400
    assert await pg_api.count_connections() == 0


async def test_metrics_read_the_shared_budgets_on_postgres(pg_api: Api, demo_form: Form) -> None:
    form = demo_form()
    connection_id = await pg_api.linked(form)
    headers = {"Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"}
    assert (await pg_api.client.get("/proxy/v3/vendors", headers=headers)).status_code == 200
    digest = key_digest(form["dev_key"])
    shared = await pg_api.runtime.clients.limits.budget(form["dev_key"])

    text = (await pg_api.client.get("/metrics")).text

    # Requests are reserved from the shared table in batches: what is reserved counts as spent.
    assert f'billbridge_bill_requests_left{{dev_key_hash="{digest}"}} {float(shared.requests_left)}' in text
    assert shared.requests_left <= 20_000 - 2
    assert f'billbridge_bill_logins_left{{dev_key_hash="{digest}"}} 199.0' in text
    assert form["dev_key"] not in text
