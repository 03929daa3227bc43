"""POST /auth/bill/{key}: linking with a connect session token, and every way it can be refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from web_harness import Api

Form = Callable[..., dict[str, str]]


async def test_link_with_demo_credentials_stores_a_working_connection(api: Api, demo_form: Form) -> None:
    response = await api.link(demo_form())

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"connectionId", "providerConfigKey"}
    assert body["providerConfigKey"] == "bill-sandbox"
    stored = await api.runtime.connections.get(body["connectionId"], "bill-sandbox")
    assert stored is not None
    assert stored.credentials.username == demo_form()["username"]
    assert stored.credentials.password.get_secret_value() == demo_form()["password"]
    assert stored.session.session_id is not None
    assert stored.end_user is not None
    assert stored.end_user["id"] == "u1"
    assert stored.tags["end_user_id"] == "u1"
    assert stored.tags["end_user_email"] == "jane@example.com"
    assert (await api.sim_stats())["logins"] == 1


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"username": ""}, "username", "username is required"),
        ({"username": "   "}, "username", "username is required"),
        ({"username": "not-an-email"}, "username", "e-mail address"),
        ({"password": ""}, "password", "password is required"),
        ({"organization_id": "00601ABCDEFGHIJKLMNO"}, "organization_id", "must begin with 008"),
        ({"organization_id": "008short"}, "organization_id", "20 letters and digits"),
        ({"dev_key": ""}, "dev_key", "dev_key is required"),
    ],
)
async def test_bad_input_names_the_field_and_stores_nothing(
    api: Api, demo_form: Form, changes: dict[str, str], field: str, words: str
) -> None:
    response = await api.link(demo_form(**changes))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_body"
    assert words in error["message"]
    assert [issue["path"] for issue in error["errors"]] == [[field]]
    assert await api.count_connections() == 0
    assert (await api.sim_stats())["logins"] == 0


async def test_missing_and_extra_fields_are_all_reported(api: Api, demo_form: Form) -> None:
    form = demo_form()
    del form["password"]
    del form["dev_key"]
    form["color"] = "blue"

    response = await api.link(form)

    assert response.status_code == 400
    paths = sorted(issue["path"][0] for issue in response.json()["error"]["errors"])
    assert paths == ["color", "dev_key", "password"]


async def test_non_object_body_and_non_string_fields_are_refused(api: Api, demo_form: Form) -> None:
    assert (await api.link(["a list"])).status_code == 400
    response = await api.link(demo_form(password=123))  # type: ignore[arg-type]
    assert response.json()["error"]["errors"][0]["path"] == ["password"]
    assert await api.count_connections() == 0


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"password": "wrong-password"},
            "password",
            "The username or password was not accepted by BILL's sandbox. Credentials from production "
            "do not work in the sandbox.",
        ),
        (
            {"dev_key": "not-a-real-developer-key"},
            "dev_key",
            "The developer key is not valid for BILL's sandbox.",
        ),
    ],
)
async def test_bill_refusal_is_a_400_with_a_message_a_person_can_act_on(
    api: Api, demo_form: Form, changes: dict[str, str], field: str, message: str
) -> None:
    response = await api.link(demo_form(**changes))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "connection_test_failed"
    assert error["message"].startswith(message)
    assert error["errors"][0]["path"] == [field]
    assert await api.count_connections() == 0


async def test_sandbox_credentials_fail_in_production(api: Api, demo_form: Form) -> None:
    token = await api.connect_session()

    response = await api.link(demo_form(), token=token, key="bill")

    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "production" in message
    assert await api.count_connections() == 0


async def test_unreachable_bill_is_a_502_and_stores_nothing(api: Api, demo_form: Form) -> None:
    await api.sim.post("/_sim/faults", json={"fail_logins": 20})

    response = await api.link(demo_form())

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "bill_tokens_fetch_error"
    assert await api.count_connections() == 0


async def test_token_problems_are_401(api: Api, demo_form: Form) -> None:
    missing = await api.anon.post("/auth/bill/bill-sandbox", json=demo_form())
    malformed = await api.anon.post(
        "/auth/bill/bill-sandbox", params={"connect_session_token": "nope"}, json=demo_form()
    )
    unknown = await api.anon.post(
        "/auth/bill/bill-sandbox",
        params={"connect_session_token": "nango_connect_session_" + "0" * 64},
        json=demo_form(),
    )

    assert missing.status_code == malformed.status_code == unknown.status_code == 401
    assert missing.json()["error"]["code"] == "missing_public_key"
    assert malformed.json()["error"]["code"] == "invalid_connect_session_token_format"
    assert unknown.json()["error"] == {
        "code": "unknown_connect_session_token",
        "message": unknown.json()["error"]["message"],
        "payload": {},
    }


async def test_deleted_session_token_is_refused(api: Api, demo_form: Form) -> None:
    token = await api.connect_session()
    ended = await api.anon.delete("/connect/session", headers={"Authorization": f"Bearer {token}"})
    assert ended.status_code == 204

    response = await api.link(demo_form(), token=token)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unknown_connect_session_token"


async def test_integration_not_allowed_and_unknown_integration(api: Api, demo_form: Form) -> None:
    token = await api.connect_session(allowed_integrations=["bill"])

    refused = await api.link(demo_form(), token=token)
    unknown = await api.link(demo_form(), key="quickbooks")

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "integration_not_allowed"
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_provider_config"
    assert await api.count_connections() == 0


async def test_connection_id_in_query_is_forbidden_with_a_session_token(api: Api, demo_form: Form) -> None:
    response = await api.link(demo_form(), connection_id="mine")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_query_params"


async def test_non_json_content_type_is_415(api: Api, demo_form: Form) -> None:
    token = await api.connect_session()
    response = await api.anon.post(
        "/auth/bill/bill-sandbox",
        params={"connect_session_token": token},
        content="username=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "invalid_content_type"


async def test_attempts_per_token_are_limited(api: Api, demo_form: Form) -> None:
    token = await api.connect_session()
    codes = [(await api.link(demo_form(password=f"guess-{i}"), token=token)).status_code for i in range(11)]
    assert codes[:10] == [400] * 10
    assert codes[10] == 429
    assert (await api.sim_stats())["login_failures"] == 10


async def test_reconnect_replaces_credentials_and_keeps_metadata(api: Api, demo_form: Form) -> None:
    connection_id = await api.linked(demo_form())
    await api.client.post(
        "/connections/metadata",
        json={"connection_id": connection_id, "provider_config_key": "bill-sandbox", "metadata": {"a": 1}},
    )
    before = await api.runtime.connections.get(connection_id, "bill-sandbox")
    reconnect = await api.client.post(
        "/connect/sessions/reconnect", json={"connection_id": connection_id, "integration_id": "bill-sandbox"}
    )
    assert reconnect.status_code == 201
    token = reconnect.json()["data"]["token"]

    response = await api.link(demo_form(), token=token)

    assert response.json() == {"connectionId": connection_id, "providerConfigKey": "bill-sandbox"}
    after = await api.runtime.connections.get(connection_id, "bill-sandbox")
    assert before is not None
    assert after is not None
    assert after.metadata == {"a": 1}
    assert after.session.generation > before.session.generation
    assert after.session.session_id != before.session.session_id
    assert await api.count_connections() == 1


async def test_reconnect_of_a_deleted_connection_is_refused(api: Api, demo_form: Form) -> None:
    connection_id = await api.linked(demo_form())
    reconnect = await api.client.post(
        "/connect/sessions/reconnect", json={"connection_id": connection_id, "integration_id": "bill-sandbox"}
    )
    token = reconnect.json()["data"]["token"]
    await api.client.delete(f"/connections/{connection_id}", params={"provider_config_key": "bill-sandbox"})

    response = await api.link(demo_form(), token=token)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_connection"
    assert await api.count_connections() == 0


async def test_session_webhook_and_config_defaults_are_attached(api: Api, demo_form: Form) -> None:
    token = await api.connect_session(
        end_user={"id": "u9", "display_name": "Kim"},
        organization={"id": "org-1", "display_name": "Acme"},
        tags={"Plan": "gold"},
        integrations_config_defaults={"bill-sandbox": {"connection_config": {"region": "us"}}},
        webhook_url_override="https://hooks.example.com/bill",
    )
    body: dict[str, Any] = (await api.link(demo_form(), token=token)).json()

    conn = await api.runtime.connections.get(body["connectionId"], "bill-sandbox")

    assert conn is not None
    assert conn.connection_config == {"region": "us"}
    assert conn.webhook_url_override == "https://hooks.example.com/bill"
    assert conn.tags == {
        "end_user_id": "u9",
        "end_user_display_name": "Kim",
        "organization_id": "org-1",
        "organization_display_name": "Acme",
        "plan": "gold",
    }
    assert conn.end_user is not None
    assert conn.end_user["organization"]["id"] == "org-1"
