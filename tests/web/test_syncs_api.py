"""The sync API's schedule and status routes: start, pause, status, frequency, and their errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from web_harness import Api

from billbridge.store import SyncResult
from billbridge.sync import syncs_for

Form = Callable[..., dict[str, str]]
KEY = "bill-sandbox"


@pytest.fixture
async def conn(api: Api, demo_form: Form) -> tuple[str, int]:
    """A linked connection with the vendors and bills syncs (vendors ran once)."""
    connection_id = await api.linked(demo_form())
    found = await api.runtime.connections.get(connection_id, KEY)
    assert found is not None
    states = api.runtime.sync_states
    for name, model in (("vendors", "Vendor"), ("bills", "Bill")):
        await states.ensure(found.pk, name, model=model, frequency="every 1h", frequency_seconds=3600)
    await states.run_started(found.pk, "vendors", run_id="run-1", sync_type="INITIAL")
    await api.runtime.records.upsert_page(found.pk, "Vendor", [{"id": "0091"}, {"id": "0092"}])
    await states.run_finished(found.pk, "vendors", status="SUCCESS", result=SyncResult(added=2))
    return connection_id, found.pk


async def status(api: Api, **params: str) -> dict[str, Any]:
    response = await api.client.get("/sync/status", params={"provider_config_key": KEY, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_status_shape_for_one_connection_and_all(api: Api, conn: tuple[str, int]) -> None:
    connection_id, _ = conn
    body = await status(api, syncs="vendors,bills", connection_id=connection_id)
    by_name = {s["name"]: s for s in body["syncs"]}
    vendors = by_name["vendors"]
    assert set(vendors) >= {
        "id",
        "type",
        "name",
        "status",
        "frequency",
        "finishedAt",
        "nextScheduledSyncAt",
        "latestResult",
        "recordCount",
        "checkpoint",
    }
    assert vendors["status"] == "SUCCESS"
    assert vendors["type"] == "INITIAL"
    assert vendors["frequency"] == "every 1h"
    assert vendors["latestResult"] == {"Vendor": {"added": 2, "updated": 0, "deleted": 0}}
    assert vendors["recordCount"] == {"Vendor": 2}
    assert vendors["finishedAt"].endswith("+00:00")
    assert vendors["connection_id"] == connection_id
    assert by_name["bills"]["latestResult"] is None
    assert by_name["bills"]["recordCount"] == {"Bill": 0}
    assert by_name["bills"]["finishedAt"] is None
    # The id is stable across calls.
    again = await status(api, syncs="vendors", connection_id=connection_id)
    assert again["syncs"][0]["id"] == vendors["id"]
    # A linked connection has every default sync (no S&E API token: the 20 catalog syncs).
    assert len((await status(api, syncs="*"))["syncs"]) == len(syncs_for(has_api_token=False))
    assert (await status(api, syncs="vendors::base"))["syncs"][0]["name"] == "vendors"
    assert (await status(api, syncs="vendors::eu"))["syncs"] == []
    assert (await status(api, syncs="nope"))["syncs"] == []


async def test_pause_then_start(api: Api, conn: tuple[str, int]) -> None:
    connection_id, pk = conn
    body = {"syncs": ["vendors"], "provider_config_key": KEY, "connection_id": connection_id}
    response = await api.client.post("/sync/pause", json=body)
    assert (response.status_code, response.json()) == (200, {"success": True})
    by_name = {s["name"]: s["status"] for s in (await status(api, syncs="vendors,bills"))["syncs"]}
    assert by_name == {"vendors": "PAUSED", "bills": "SUCCESS"}
    response = await api.client.post(
        "/sync/start", json={**body, "syncs": [{"name": "vendors", "variant": "base"}]}
    )
    assert response.status_code == 200
    state = await api.runtime.sync_states.get(pk, "vendors")
    assert state is not None
    assert state.enabled
    # No syncs named and no connection: every sync of the integration.
    response = await api.client.post("/sync/pause", json={"syncs": [], "provider_config_key": KEY})
    assert response.status_code == 200
    assert {s["status"] for s in (await status(api, syncs="*"))["syncs"]} == {"PAUSED"}


@pytest.mark.parametrize(
    ("body", "status_code", "code"),
    [
        ({"syncs": ["nope"], "provider_config_key": KEY}, 400, "no_syncs_found"),
        (
            {"syncs": ["vendors"], "provider_config_key": KEY, "connection_id": "ghost"},
            404,
            "unknown_connection",
        ),
        ({"syncs": ["vendors"], "provider_config_key": "other"}, 400, "unknown_provider_config"),
        (
            {"syncs": [{"name": "vendors", "variant": "eu"}], "provider_config_key": KEY},
            400,
            "no_syncs_found",
        ),
        ({"syncs": "vendors", "provider_config_key": KEY}, 400, "invalid_body"),
        ({"syncs": ["vendors"]}, 400, "invalid_body"),
        ({"syncs": ["vendors"], "provider_config_key": KEY, "extra": 1}, 400, "invalid_body"),
        ({"syncs": ["vendors"] * 257, "provider_config_key": KEY}, 400, "invalid_body"),
    ],
)
async def test_start_and_pause_errors(
    api: Api, conn: tuple[str, int], body: dict[str, Any], status_code: int, code: str
) -> None:
    for route in ("/sync/start", "/sync/pause"):
        response = await api.client.post(route, json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status_code, code), route


async def test_status_errors(api: Api, conn: tuple[str, int]) -> None:
    cases = [
        ({"syncs": "*", "provider_config_key": KEY, "connection_id": "ghost"}, "invalid_body"),
        ({"provider_config_key": KEY}, "invalid_query_params"),
        ({"syncs": "*"}, "invalid_query_params"),
        ({"syncs": "*", "provider_config_key": KEY, "limit": "1"}, "invalid_query_params"),
        ({"syncs": "*", "provider_config_key": "other"}, "unknown_provider_config"),
        ({"syncs": ",".join(["vendors"] * 257), "provider_config_key": KEY}, "invalid_query_params"),
    ]
    for params, code in cases:
        response = await api.client.get("/sync/status", params=params)
        assert (response.status_code, response.json()["error"]["code"]) == (400, code), params


async def test_update_frequency(api: Api, conn: tuple[str, int]) -> None:
    connection_id, pk = conn
    body = {"sync_name": "vendors", "provider_config_key": KEY, "connection_id": connection_id}
    response = await api.client.put(
        "/sync/update-connection-frequency", json={**body, "frequency": "every 30 minutes"}
    )
    assert (response.status_code, response.json()) == (200, {"frequency": "30m"})
    state = await api.runtime.sync_states.get(pk, "vendors")
    assert state is not None
    assert (state.frequency, state.frequency_seconds) == ("every 30 minutes", 1800)
    assert state.finished_at is not None
    assert state.next_scheduled_at == state.finished_at + timedelta(minutes=30)
    assert (await status(api, syncs="vendors"))["syncs"][0]["frequency"] == "every 30 minutes"
    errors = [
        ({**body, "frequency": "every 5s"}, "invalid_body"),
        ({**body, "frequency": "sometimes"}, "invalid_body"),
        ({**body, "sync_name": "nope", "frequency": "every 1h"}, "unknown_sync"),
        ({**body, "sync_variant": "eu", "frequency": "every 1h"}, "unknown_sync"),
        ({**body, "connection_id": "ghost", "frequency": "every 1h"}, "unknown_connection"),
        (body, "invalid_body"),  # frequency is required (null to reset)
    ]
    for sent, code in errors:
        response = await api.client.put("/sync/update-connection-frequency", json=sent)
        assert (response.status_code, response.json()["error"]["code"]) == (400, code), sent
