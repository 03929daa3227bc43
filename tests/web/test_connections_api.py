"""GET/PATCH/DELETE /connections/{id}, GET /connections and the metadata routes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from web_harness import Api

Form = Callable[..., dict[str, str]]
KEY = {"provider_config_key": "bill-sandbox"}
NANGO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


async def _get(api: Api, connection_id: str, **params: str) -> Any:
    return await api.client.get(f"/connections/{connection_id}", params={**KEY, **params})


async def test_get_connection_has_nango_shape_and_never_the_password(api: Api, demo_form: Form) -> None:
    connection_id = await api.linked(demo_form())

    response = await _get(api, connection_id, force_refresh="false", refresh_token="false")

    assert response.status_code == 200
    body = response.json()
    assert body["connection_id"] == connection_id
    assert body["provider_config_key"] == "bill-sandbox"
    assert body["provider"] == "bill"
    assert isinstance(body["id"], int)
    assert body["errors"] == []
    assert body["metadata"] == {}
    assert body["connection_config"] == {}
    for stamp in ("created_at", "updated_at", "last_fetched_at"):
        assert NANGO_TIME.match(body[stamp]), body[stamp]
    creds = body["credentials"]
    assert creds["type"] == "BILL"
    assert creds["username"] == demo_form()["username"]
    assert creds["organization_id"] == demo_form()["organization_id"]
    assert creds["dev_key"] == demo_form()["dev_key"]
    assert creds["user_id"].startswith("006")
    assert NANGO_TIME.match(creds["expires_at"])
    assert creds["raw"]["sessionId"] == creds["session_id"]
    assert "password" not in creds
    assert demo_form()["password"] not in response.text
    stored = await api.runtime.connections.get(connection_id, "bill-sandbox")
    assert stored is not None
    assert stored.last_fetched_at is not None


async def test_the_session_handed_out_works_against_bill(api: Api, demo_form: Form) -> None:
    connection_id = await api.linked(demo_form())
    creds = (await _get(api, connection_id)).json()["credentials"]

    vendors = await api.sim.get(
        "/connect/v3/vendors", headers={"devKey": creds["dev_key"], "sessionId": creds["session_id"]}
    )

    assert vendors.status_code == 200
    assert (await api.sim_stats())["logins"] == 1


async def test_force_refresh_logs_in_anew(api: Api, demo_form: Form) -> None:
    connection_id = await api.linked(demo_form())
    first = (await _get(api, connection_id)).json()["credentials"]["session_id"]

    forced = (await _get(api, connection_id, force_refresh="true")).json()["credentials"]["session_id"]

    assert forced != first
    assert (await api.sim_stats())["logins"] == 2


async def test_changed_password_gives_invalid_credentials_and_a_single_login(
    api: Api, demo_form: Form
) -> None:
    connection_id = await api.linked(demo_form())
    await api.store_wrong_password(connection_id)

    first = await _get(api, connection_id, force_refresh="true")
    second = await _get(api, connection_id, force_refresh="true")

    assert first.status_code == second.status_code == 424
    assert first.json()["error"]["code"] == "invalid_credentials"
    assert "credentials" not in first.json()["error"]["payload"]["connection"]
    assert (await api.sim_stats())["login_failures"] == 1


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 400, "invalid_query_params"),
        ({"provider_config_key": "bill-sandbox", "extra": "1"}, 400, "invalid_query_params"),
        ({"provider_config_key": "bill-sandbox", "force_refresh": "maybe"}, 400, "invalid_query_params"),
        ({"provider_config_key": "xero"}, 400, "unknown_provider_config"),
        ({"provider_config_key": "bill-sandbox"}, 404, "not_found"),
    ],
)
async def test_get_connection_errors(api: Api, params: dict[str, str], status: int, code: str) -> None:
    response = await api.client.get("/connections/ghost", params=params)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_list_filters_and_shape(api: Api, demo_form: Form) -> None:
    first = await api.linked(demo_form(), end_user={"id": "alice", "email": "alice@example.com"})
    second = await api.linked(
        demo_form(), end_user={"id": "bob", "display_name": "Bob"}, organization={"id": "org-b"}
    )

    everything = (await api.client.get("/connections")).json()["connections"]
    by_user = (await api.client.get("/connections", params={"endUserId": "alice"})).json()["connections"]
    by_org = (await api.client.get("/connections", params={"endUserOrganizationId": "org-b"})).json()
    by_search = (await api.client.get("/connections", params={"search": "ALICE@"})).json()["connections"]
    by_tag = (await api.client.get("/connections/", params={"tags[END_USER_ID]": "bob"})).json()[
        "connections"
    ]
    by_id = (await api.client.get("/connections", params={"connectionId": first})).json()["connections"]
    production = (await api.client.get("/connections", params={"integrationId": "bill"})).json()
    paged = (await api.client.get("/connections", params={"limit": "1", "page": "1"})).json()["connections"]

    assert [c["connection_id"] for c in everything] == [second, first]
    item = everything[0]
    assert set(item) == {"id", "connection_id", "provider_config_key", "provider", "errors", "end_user"} | {
        "tags",
        "metadata",
        "created",
    }
    assert NANGO_TIME.match(item["created"])
    assert [c["connection_id"] for c in by_user] == [first]
    assert [c["connection_id"] for c in by_org["connections"]] == [second]
    assert [c["connection_id"] for c in by_search] == [first]
    assert [c["connection_id"] for c in by_tag] == [second]
    assert [c["connection_id"] for c in by_id] == [first]
    assert production == {"connections": []}
    assert [c["connection_id"] for c in paged] == [first]


async def test_list_rejects_unknown_query_and_bad_limits(api: Api) -> None:
    unknown = await api.client.get("/connections", params={"foo": "1"})
    too_big = await api.client.get("/connections", params={"limit": "5000"})
    assert unknown.status_code == too_big.status_code == 400


async def test_delete_removes_the_connection_and_logs_out_of_bill(api: Api, demo_form: Form) -> None:
    connection_id = await api.linked(demo_form())
    creds = (await _get(api, connection_id)).json()["credentials"]

    response = await api.client.delete(f"/connections/{connection_id}", params=KEY)
    await api.runtime.accounts.drain()

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert await api.count_connections() == 0
    after = await api.sim.get(
        "/connect/v3/vendors", headers={"devKey": creds["dev_key"], "sessionId": creds["session_id"]}
    )
    assert after.status_code == 401  # BILL's BDC_1109: the session was ended
    again = await api.client.delete(f"/connections/{connection_id}", params=KEY)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "unknown_connection"


async def test_patch_changes_end_user_tags_and_webhook_override(api: Api, demo_form: Form) -> None:
    connection_id = await api.linked(demo_form())

    response = await api.client.patch(
        f"/connections/{connection_id}",
        params=KEY,
        json={
            "end_user": {"id": "u2", "email": "new@example.com"},
            "tags": {"Tier": "one"},
            "webhook_url_override": "https://hooks.example.com/x",
        },
    )
    body = (await _get(api, connection_id)).json()

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert body["end_user"]["email"] == "new@example.com"
    assert body["tags"] == {"tier": "one"}
    assert body["webhook_url_override"] == "https://hooks.example.com/x"
    bad = await api.client.patch(f"/connections/{connection_id}", params=KEY, json={"nope": 1})
    assert bad.status_code == 400


async def test_metadata_set_then_merge(api: Api, demo_form: Form) -> None:
    first = await api.linked(demo_form())
    second = await api.linked(demo_form())
    body = {
        "connection_id": [first, second],
        "provider_config_key": "bill-sandbox",
        "metadata": {"a": 1, "b": 2},
    }

    created = await api.client.post("/connections/metadata", json=body)
    merged = await api.client.patch(
        "/connections/metadata",
        json={"connection_id": first, "provider_config_key": "bill-sandbox", "metadata": {"b": 3}},
    )

    assert created.status_code == 201
    assert created.json() == body
    assert merged.status_code == 200
    assert (await _get(api, first)).json()["metadata"] == {"a": 1, "b": 3}
    assert (await _get(api, second)).json()["metadata"] == {"a": 1, "b": 2}
    missing = await api.client.post(
        "/connections/metadata",
        json={"connection_id": "ghost", "provider_config_key": "bill-sandbox", "metadata": {}},
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_connection"
