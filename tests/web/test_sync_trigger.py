"""The sync API with the engine running in the app (as in ``billbridge serve``): a linked connection
syncs, changes behind billbridge's back arrive after a trigger, and the sync webhook says so."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOS
from pydantic import SecretStr
from web_harness import SECRET_KEY, Api, WebhookReceiver, make_settings, running_app

from billbridge.store.record_counts import live_record_counts
from fixtures_db import TEST_KEY_LINE

Form = Callable[..., dict[str, str]]
KEY = "bill-sandbox"


@pytest.fixture
async def engine_api(
    sim_app: Any, production_sim_app: Any, sqlite_database_url: str, tmp_path: Path, receiver: WebhookReceiver
) -> AsyncIterator[Api]:
    settings = make_settings(
        tmp_path,
        database_url=sqlite_database_url,
        encryption_key=SecretStr(TEST_KEY_LINE),
        webhook_url=receiver.url,
        sync_defaults="vendors",
    )
    async with running_app(settings, sandbox=sim_app, production=production_sim_app, sync_role="api") as api:
        yield api


async def vendors_status(api: Api, connection_id: str) -> dict[str, Any]:
    params = {"syncs": "vendors", "provider_config_key": KEY, "connection_id": connection_id}
    response = await api.client.get("/sync/status", params=params)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["syncs"][0]
    return found


async def settled(api: Api, connection_id: str, *, after: str | None = None) -> dict[str, Any]:
    """The vendors sync's status once a run finished (one finishing after ``after``, if given)."""
    async with asyncio.timeout(60):
        while True:
            state = await vendors_status(api, connection_id)
            if state["status"] == "SUCCESS" and state["finishedAt"] and state["finishedAt"] != after:
                return state
            assert state["status"] != "ERROR", state
            await asyncio.sleep(0.1)


async def stored(api: Api, connection_id: str) -> dict[str, dict[str, Any]]:
    headers = {"Connection-Id": connection_id, "Provider-Config-Key": KEY}
    response = await api.client.get("/records/", params={"model": "Vendor", "limit": 10000}, headers=headers)
    assert response.status_code == 200
    return {r["id"]: r for r in response.json()["records"]}


async def sim_vendors(api: Api, org: str) -> list[dict[str, Any]]:
    params = {"family": "vendors", "space": "v3", "organization_id": org}
    results: list[dict[str, Any]] = (await api.sim.get("/_sim/objects", params=params)).json()["results"]
    return results


async def test_link_sync_change_trigger_and_webhook(
    engine_api: Api, receiver: WebhookReceiver, demo_form: Form
) -> None:
    api = engine_api
    form = demo_form()
    connection_id = await api.linked(form)
    first = await settled(api, connection_id)
    assert first["type"] == "INITIAL"
    sim = await sim_vendors(api, form["organization_id"])
    records = await stored(api, connection_id)
    assert set(records) == {v["id"] for v in sim}
    archived = sum(1 for v in sim if v.get("archived"))
    # As Nango counts: live records, not those deleted (archived at BILL).
    assert first["recordCount"] == {"Vendor": len(sim) - archived}

    # Archive one vendor behind billbridge's back, then ask for a run now.
    target = next(v["id"] for v in sim if not v.get("archived"))
    change = {
        "action": "archive",
        "family": "vendors",
        "space": "v3",
        "organization_id": form["organization_id"],
    }
    (await api.sim.post("/_sim/objects", json={**change, "id": target})).raise_for_status()
    body = {"syncs": ["vendors"], "provider_config_key": KEY, "connection_id": connection_id}
    response = await api.client.post("/sync/trigger", json=body)
    assert (response.status_code, response.json()) == (200, {"success": True})
    second = await settled(api, connection_id, after=first["finishedAt"])
    assert second["type"] == "INCREMENTAL"
    assert second["latestResult"] == {"Vendor": {"added": 0, "updated": 0, "deleted": 1}}
    assert second["recordCount"] == {"Vendor": len(sim) - archived - 1}
    assert (await stored(api, connection_id))[target]["_nango_metadata"]["last_action"] == "DELETED"

    hooks = [json.loads(h.body) for h in await receiver.wait_for(3)]
    sync_hooks = [h for h in hooks if h["type"] == "sync"]
    assert [h["responseResults"] for h in sync_hooks] == [
        # Records already archived when first seen are stored (and counted) as DELETED.
        {"added": len(sim) - archived, "updated": 0, "deleted": archived},
        {"added": 0, "updated": 0, "deleted": 1},
    ]
    last = receiver.received[-1]
    assert (
        last.headers["X-Nango-Hmac-Sha256"]
        == hmac.new(SECRET_KEY.encode(), last.body, hashlib.sha256).hexdigest()
    )
    # modifiedAfter lists exactly what the run changed.
    headers = {"Connection-Id": connection_id, "Provider-Config-Key": KEY}
    changed = await api.client.get(
        "/records",
        params={"model": "Vendor", "modified_after": sync_hooks[1]["modifiedAfter"]},
        headers=headers,
    )
    assert [r["id"] for r in changed.json()["records"]] == [target]

    # A full refresh through the legacy sync_mode, and back to the default frequency.
    response = await api.client.post("/sync/trigger", json={**body, "sync_mode": "full_refresh"})
    assert response.status_code == 200
    third = await settled(api, connection_id, after=second["finishedAt"])
    assert third["latestResult"] == {"Vendor": {"added": 0, "updated": 0, "deleted": 0}}
    reset = {
        "sync_name": "vendors",
        "provider_config_key": KEY,
        "connection_id": connection_id,
        "frequency": None,
    }
    response = await api.client.put("/sync/update-connection-frequency", json=reset)
    assert (response.status_code, response.json()) == (200, {"frequency": "1h"})


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"syncs": ["vendors"]}, 400, "missing_provider_config_key"),
        (
            {
                "syncs": ["vendors"],
                "provider_config_key": KEY,
                "opts": {"reset": True},
                "sync_mode": "incremental",
            },
            400,
            "invalid_body",
        ),
        ({"syncs": ["vendors"], "provider_config_key": KEY, "sync_mode": "sometimes"}, 400, "invalid_body"),
        ({"syncs": ["nope"], "provider_config_key": KEY}, 400, "no_syncs_found"),
        (
            {"syncs": ["vendors"], "provider_config_key": KEY, "connection_id": "ghost"},
            404,
            "unknown_connection",
        ),
        ({"syncs": ["vendors"], "provider_config_key": "nope"}, 400, "unknown_provider_config"),
        ({"syncs": ["vendors"], "provider_config_key": KEY, "more": 1}, 400, "invalid_body"),
    ],
)
async def test_trigger_errors(
    engine_api: Api, demo_form: Form, body: dict[str, Any], status: int, code: str
) -> None:
    await engine_api.linked(demo_form())
    response = await engine_api.client.post("/sync/trigger", json=body)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


async def test_trigger_reads_the_integration_and_connection_from_headers(
    engine_api: Api, demo_form: Form
) -> None:
    connection_id = await engine_api.linked(demo_form())
    first = await settled(engine_api, connection_id)
    headers = {"Provider-Config-Key": KEY, "Connection-Id": connection_id}
    response = await engine_api.client.post(
        "/sync/trigger", json={"syncs": [], "opts": {"reset": True}}, headers=headers
    )
    assert response.status_code == 200, response.text
    await settled(engine_api, connection_id, after=first["finishedAt"])


async def test_empty_cache_empties_the_records_only_with_a_reset(engine_api: Api, demo_form: Form) -> None:
    api = engine_api
    form = demo_form()
    connection_id = await api.linked(form)
    first = await settled(api, connection_id)
    body = {"syncs": ["vendors"], "provider_config_key": KEY, "connection_id": connection_id}

    # As Nango: emptyCache without reset is a plain run; the records stay and nothing is re-added.
    response = await api.client.post("/sync/trigger", json={**body, "opts": {"emptyCache": True}})
    assert response.status_code == 200, response.text
    plain = await settled(api, connection_id, after=first["finishedAt"])
    assert plain["type"] == "INCREMENTAL"
    assert plain["latestResult"] == {"Vendor": {"added": 0, "updated": 0, "deleted": 0}}

    response = await api.client.post(
        "/sync/trigger", json={**body, "opts": {"reset": True, "emptyCache": True}}
    )
    assert response.status_code == 200, response.text
    emptied = await settled(api, connection_id, after=plain["finishedAt"])
    sim = await sim_vendors(api, form["organization_id"])
    archived = sum(1 for v in sim if v.get("archived"))
    assert emptied["type"] == "INITIAL"
    # Every record was written again from scratch.
    assert emptied["latestResult"] == {
        "Vendor": {"added": len(sim) - archived, "updated": 0, "deleted": archived}
    }
    assert set(await stored(api, connection_id)) == {v["id"] for v in sim}

    # The legacy sync_mode: incremental is a plain run, full_refresh_and_clear_cache empties first.
    response = await api.client.post("/sync/trigger", json={**body, "sync_mode": "incremental"})
    assert response.status_code == 200, response.text
    legacy_plain = await settled(api, connection_id, after=emptied["finishedAt"])
    assert legacy_plain["type"] == "INCREMENTAL"
    assert legacy_plain["latestResult"] == {"Vendor": {"added": 0, "updated": 0, "deleted": 0}}
    response = await api.client.post(
        "/sync/trigger", json={**body, "sync_mode": "full_refresh_and_clear_cache"}
    )
    assert response.status_code == 200, response.text
    legacy_emptied = await settled(api, connection_id, after=legacy_plain["finishedAt"])
    assert legacy_emptied["type"] == "INITIAL"
    assert legacy_emptied["latestResult"] == emptied["latestResult"]


async def test_deleting_a_connection_stops_its_runs_and_deletes_its_records(
    engine_api: Api, demo_form: Form
) -> None:
    api = engine_api
    connection_id = await api.linked(demo_form())
    first = await settled(api, connection_id)
    conn = await api.runtime.connections.get(connection_id, KEY)
    assert conn is not None
    assert await live_record_counts(api.runtime.db, conn.pk) == {"Vendor": first["recordCount"]["Vendor"]}
    # A slow BILL: the next run is still going when the connection is deleted.
    (await api.sim.post("/_sim/faults", json={"latency_ms": 400})).raise_for_status()
    body = {"syncs": ["vendors"], "provider_config_key": KEY, "connection_id": connection_id}
    assert (await api.client.post("/sync/trigger", json={**body, "opts": {"reset": True}})).status_code == 200
    async with asyncio.timeout(30):
        while not await DBOS.list_workflows_async(workflow_id_prefix=f"sync:{conn.pk}:", status="PENDING"):
            await asyncio.sleep(0.02)

    deleted = await api.client.delete(f"/connections/{connection_id}", params={"provider_config_key": KEY})

    assert deleted.json() == {"success": True}
    async with asyncio.timeout(30):
        while await DBOS.list_workflows_async(
            workflow_id_prefix=f"sync:{conn.pk}:", status=["ENQUEUED", "PENDING"], load_input=False
        ):
            await asyncio.sleep(0.05)
    runs = await DBOS.list_workflows_async(
        workflow_id_prefix=f"sync:{conn.pk}:vendors:", name="billbridge.sync.run"
    )
    assert "CANCELLED" in {run.status for run in runs}
    assert await live_record_counts(api.runtime.db, conn.pk) == {}
    assert await api.runtime.records.counts(conn.pk) == {}
    assert await api.runtime.sync_states.list(connection_pk=conn.pk) == []
    status = await api.client.get("/sync/status", params={"syncs": "*", "provider_config_key": KEY})
    assert status.json() == {"syncs": []}
