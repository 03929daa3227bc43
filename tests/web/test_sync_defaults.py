"""Which syncs a new connection starts, and how often, is set per integration
(``BILLBRIDGE_BILL_SYNC_DEFAULTS``, ``BILLBRIDGE_BILL_SANDBOX_SYNC_DEFAULTS``), with the global
``BILLBRIDGE_SYNC_DEFAULTS`` for an integration that sets none."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from web_harness import Api, make_settings, running_app

from billbridge.cli.demo import demo_credentials
from billbridge.connections import integrations_from_settings
from billbridge.errors import ConfigurationError
from billbridge.runtime import open_runtime
from billbridge.settings import get_settings
from fixtures_db import TEST_KEY_LINE

Form = Callable[..., dict[str, str]]


@pytest.fixture
async def planned_api(
    sim_app: Any, production_sim_app: Any, sqlite_database_url: str, tmp_path: Path
) -> AsyncIterator[Api]:
    settings = make_settings(
        tmp_path,
        database_url=sqlite_database_url,
        encryption_key=SecretStr(TEST_KEY_LINE),
        sync_defaults="vendors=every 30m",
        bill_sandbox_sync_defaults="bills=every 2h,customers",
    )
    async with running_app(settings, sandbox=sim_app, production=production_sim_app) as api:
        yield api


async def _syncs(api: Api, key: str, connection_id: str) -> dict[str, str]:
    params = {"syncs": "*", "provider_config_key": key, "connection_id": connection_id}
    answer = await api.client.get("/sync/status", params=params)
    assert answer.status_code == 200, answer.text
    return {sync["name"]: sync["frequency"] for sync in answer.json()["syncs"]}


async def _production_form(production_sim_app: Any) -> dict[str, str]:
    transport = httpx.ASGITransport(app=production_sim_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://production.test") as sim:
        world = (await sim.get("/_sim/world")).raise_for_status().json()
    return demo_credentials(world)


async def test_each_integration_starts_its_own_syncs(
    planned_api: Api, demo_form: Form, production_sim_app: Any
) -> None:
    api = planned_api
    sandbox = await api.linked(demo_form())
    answer = await api.link(await _production_form(production_sim_app), key="bill")
    assert answer.status_code == 200, answer.text
    production = answer.json()["connectionId"]

    assert await _syncs(api, "bill-sandbox", sandbox) == {"bills": "every 2h", "customers": "every 1h"}
    # The production integration sets nothing: the global setting applies.
    assert await _syncs(api, "bill", production) == {"vendors": "every 30m"}


async def test_a_frequency_reset_returns_to_the_integrations_default(
    planned_api: Api, demo_form: Form
) -> None:
    api = planned_api
    connection_id = await api.linked(demo_form())
    body = {"sync_name": "bills", "provider_config_key": "bill-sandbox", "connection_id": connection_id}
    changed = await api.client.put(
        "/sync/update-connection-frequency", json={**body, "frequency": "every 5m"}
    )
    assert changed.json() == {"frequency": "5m"}
    reset = await api.client.put("/sync/update-connection-frequency", json={**body, "frequency": None})
    assert reset.json() == {"frequency": "2h"}
    assert (await _syncs(api, "bill-sandbox", connection_id))["bills"] == "every 2h"


def test_the_integrations_read_their_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BILLBRIDGE_SYNC_DEFAULTS", "none")
    monkeypatch.setenv("BILLBRIDGE_BILL_SYNC_DEFAULTS", "vendors,bills")
    integrations = integrations_from_settings(get_settings(data_dir=tmp_path))
    assert integrations["bill"].sync_defaults == "vendors,bills"
    assert integrations["bill-sandbox"].sync_defaults == "none"


async def test_a_bad_integration_setting_stops_start_up_naming_it(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, encryption_key=SecretStr(TEST_KEY_LINE), bill_sandbox_sync_defaults="vendors,invoicez"
    )
    with pytest.raises(ConfigurationError, match=r"BILLBRIDGE_BILL_SANDBOX_SYNC_DEFAULTS.*invoicez"):
        async with open_runtime(settings, sync_role="none"):
            pass
