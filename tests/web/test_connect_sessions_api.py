"""Connect sessions: created with the secret key, read and ended with their own token."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from web_harness import PUBLIC_URL, Api

Form = Callable[..., dict[str, str]]


async def test_create_session_answers_201_with_token_link_and_expiry(api: Api) -> None:
    response = await api.client.post(
        "/connect/sessions",
        json={"end_user": {"id": "u1", "email": "a@b.co"}, "allowed_integrations": ["bill"]},
    )

    assert response.status_code == 201
    data = response.json()["data"]
    assert re.fullmatch(r"nango_connect_session_[0-9a-f]{64}", data["token"])
    assert data["connect_link"] == f"{PUBLIC_URL}/connect?session_token={data['token']}"
    assert data["expires_at"].endswith("Z")
    expires = datetime.fromisoformat(data["expires_at"])
    assert timedelta(minutes=29) < expires - datetime.now(UTC) <= timedelta(minutes=30)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, ["end_user"]),
        ({"end_user": {"id": ""}}, ["end_user", "id"]),
        ({"end_user": {"id": "u1", "email": "nope"}}, ["end_user", "email"]),
        ({"end_user": {"id": "u1"}, "allowed_integrations": ["xero"]}, ["allowed_integrations", 0]),
        ({"end_user": {"id": "u1"}, "surprise": 1}, ["surprise"]),
        ({"end_user": {"id": "u1"}, "webhook_url_override": "not a url"}, ["webhook_url_override"]),
    ],
)
async def test_invalid_session_bodies_are_400_with_the_path(
    api: Api, body: dict[str, object], path: list[object]
) -> None:
    response = await api.client.post("/connect/sessions", json=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_body"
    assert path in [issue["path"][: len(path)] for issue in error["errors"]]


async def test_tags_alone_are_enough_and_query_must_be_empty(api: Api) -> None:
    assert (await api.client.post("/connect/sessions", json={"tags": {"k": "v"}})).status_code == 201
    response = await api.client.post("/connect/sessions", params={"x": "1"}, json={"tags": {"k": "v"}})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_query_params"


async def test_session_routes_need_the_secret_key(api: Api) -> None:
    missing = await api.anon.post("/connect/sessions", json={"end_user": {"id": "u1"}})
    wrong = await api.anon.post(
        "/connect/sessions", json={"end_user": {"id": "u1"}}, headers={"Authorization": "Bearer nope"}
    )
    malformed = await api.anon.post(
        "/connect/sessions", json={"end_user": {"id": "u1"}}, headers={"Authorization": "Basic abc"}
    )

    assert [r.status_code for r in (missing, wrong, malformed)] == [401, 401, 401]
    assert [r.json()["error"]["code"] for r in (missing, wrong, malformed)] == [
        "missing_auth_header",
        "unknown_account",
        "malformed_auth_header",
    ]


async def test_get_session_with_its_token(api: Api) -> None:
    token = await api.connect_session(
        end_user={"id": "u1", "email": "jane@example.com", "display_name": "Jane"},
        organization={"id": "o1", "display_name": "Acme"},
        allowed_integrations=["bill-sandbox"],
    )

    response = await api.anon.get("/connect/session", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["endUser"] == {
        "id": "u1",
        "email": "jane@example.com",
        "display_name": "Jane",
        "tags": {},
        "organization": {"id": "o1", "display_name": "Acme"},
    }
    assert data["allowed_integrations"] == ["bill-sandbox"]
    assert data["isReconnecting"] is False
    assert set(data["connectUISettings"]) == {"theme", "defaultTheme", "showWatermark"}


async def test_reconnect_session_prefills_username_and_organization_only(api: Api, demo_form: Form) -> None:
    connection_id = await api.linked(demo_form())
    response = await api.client.post(
        "/connect/sessions/reconnect", json={"connection_id": connection_id, "integration_id": "bill-sandbox"}
    )
    token = response.json()["data"]["token"]

    data = (await api.anon.get("/connect/session", headers={"Authorization": f"Bearer {token}"})).json()[
        "data"
    ]

    assert data["isReconnecting"] is True
    assert data["allowed_integrations"] == ["bill-sandbox"]
    assert data["endUser"]["id"] == "u1"
    assert data["reconnect"] == {
        "connection_id": connection_id,
        "provider_config_key": "bill-sandbox",
        "username": demo_form()["username"],
        "organization_id": demo_form()["organization_id"],
    }
    assert demo_form()["password"] not in response.text + str(data)


async def test_reconnect_of_unknown_connection_is_400(api: Api) -> None:
    response = await api.client.post(
        "/connect/sessions/reconnect", json={"connection_id": "ghost", "integration_id": "bill-sandbox"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["path"] == ["connection_id"]


async def test_session_token_routes_refuse_the_secret_key_and_bad_tokens(api: Api) -> None:
    with_secret = await api.client.get("/connect/session")
    malformed = await api.anon.get("/connect/session", headers={"Authorization": "Bearer abc"})

    assert with_secret.status_code == 401
    assert malformed.json()["error"]["code"] == "invalid_connect_session_token_format"
