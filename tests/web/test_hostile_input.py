"""Hostile input on the API: odd digits, NUL characters, field limits, empty allow-lists, 405s.

Each answer must be a 400 (or the contract's status) with the error envelope, never a 500, and the
same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from web_harness import Api, make_settings, running_app

from fixtures_db import TEST_KEY_LINE

Form = Callable[..., dict[str, str]]
KEY = {"provider_config_key": "bill-sandbox"}
# Characters str.isdigit() accepts that are not ASCII digits: superscript, circled, Arabic-Indic,
# full-width.
ODD_DIGITS = ["²", "①", "٣", "\uff11", "1²", "٣٠"]
# The same in a header: latin-1 bytes decode to "²" and "¹", UTF-8 ones to other characters.
ODD_HEADER_DIGITS = [b"\xb2", b"1\xb2", b"\xb9", "٣".encode(), "①".encode()]


@pytest.fixture
async def any_api(
    sim_app: Any, production_sim_app: Any, database_url: str, tmp_path: Path
) -> AsyncIterator[Api]:
    """The app on SQLite and on PostgreSQL."""
    settings = make_settings(tmp_path, database_url=database_url, encryption_key=SecretStr(TEST_KEY_LINE))
    async with running_app(settings, sandbox=sim_app, production=production_sim_app) as running:
        yield running


def _envelope(body: dict[str, Any], code: str) -> dict[str, Any]:
    error: dict[str, Any] = body["error"]
    assert error["code"] == code
    assert error["message"], "every error names the problem in error.message"
    return error


@pytest.mark.parametrize("value", ODD_DIGITS)
@pytest.mark.parametrize("name", ["limit", "page"])
async def test_list_paging_takes_ascii_digits_only(api: Api, name: str, value: str) -> None:
    response = await api.client.get("/connections", params={name: value})

    assert response.status_code == 400
    error = _envelope(response.json(), "invalid_query_params")
    assert error["errors"][0]["path"] == [name]


@pytest.mark.parametrize("value", ODD_HEADER_DIGITS)
async def test_proxy_retries_takes_ascii_digits_only(api: Api, demo_form: Form, value: bytes) -> None:
    connection_id = await api.linked(demo_form())
    headers = {"Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"}
    headers_with_retries = [*headers.items(), ("Retries", value)]

    response = await api.client.get("/proxy/v3/vendors", headers=headers_with_retries)

    assert response.status_code == 400
    error = _envelope(response.json(), "invalid_headers")
    assert error["errors"][0]["path"] == ["retries"]


async def test_empty_allowed_integrations_is_refused(api: Api) -> None:
    body = {"end_user": {"id": "u1"}, "allowed_integrations": []}

    response = await api.client.post("/connect/sessions", json=body)

    assert response.status_code == 400
    error = _envelope(response.json(), "invalid_body")
    assert error["errors"][0]["path"] == ["allowed_integrations"]


NUL_BODIES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/connect/sessions", {"end_user": {"id": "u\x001"}}),
    ("POST", "/connect/sessions", {"end_user": {"id": "u1", "display_name": "Ja\x00ne"}}),
    ("POST", "/connect/sessions", {"end_user": {"id": "u1"}, "tags": {"team": "a\x00"}}),
    ("POST", "/connect/sessions", {"end_user": {"id": "u1"}, "tags": {"te\x00am": "a"}}),
    ("POST", "/connect/sessions", {"end_user": {"id": "u1", "tags": {"x": "\x00"}}}),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL_BODIES)
async def test_nul_characters_in_bodies_are_refused(
    any_api: Api, method: str, path: str, body: dict[str, Any]
) -> None:
    response = await any_api.client.request(method, path, json=body)

    assert response.status_code == 400, response.text
    _envelope(response.json(), "invalid_body")


async def test_nul_characters_in_connection_writes_are_refused(any_api: Api, demo_form: Form) -> None:
    connection_id = await any_api.linked(demo_form())
    writes: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
        ("PATCH", f"/connections/{connection_id}", {"end_user": {"id": "a\x00"}}, KEY),
        ("PATCH", f"/connections/{connection_id}", {"tags": {"k": "v\x00"}}, KEY),
        (
            "POST",
            "/connections/metadata",
            {
                "connection_id": connection_id,
                "provider_config_key": "bill-sandbox",
                "metadata": {"a": "\x00"},
            },
            {},
        ),
        (
            "PATCH",
            "/connections/metadata",
            {"connection_id": connection_id, "provider_config_key": "bill-sandbox", "metadata": {"\x00": 1}},
            {},
        ),
    ]
    for method, path, body, params in writes:
        response = await any_api.client.request(method, path, json=body, params=params)
        assert response.status_code == 400, (path, body, response.text)
        _envelope(response.json(), "invalid_body")
    got = await any_api.client.get(f"/connections/{connection_id}", params=KEY)
    assert got.status_code == 200
    assert got.json()["metadata"] == {}


@pytest.mark.parametrize(
    "params",
    [
        {"search": "ja\x00"},
        {"endUserId": "\x00"},
        {"endUserOrganizationId": "o\x00"},
        {"connectionId": "c\x00"},
        {"integrationId": "bill\x00"},
        {"tags[team]": "\x00"},
    ],
)
async def test_nul_characters_in_list_filters_are_refused(any_api: Api, params: dict[str, str]) -> None:
    response = await any_api.client.get("/connections", params=params)

    assert response.status_code == 400, response.text
    _envelope(response.json(), "invalid_query_params")


async def test_nul_characters_in_path_ids_are_refused(any_api: Api) -> None:
    response = await any_api.client.get("/connections/abc%00def", params=KEY)

    assert response.status_code == 400, response.text
    _envelope(response.json(), "invalid_uri_params")


async def test_patch_keeps_the_same_field_limits_as_sessions(api: Api, demo_form: Form) -> None:
    connection_id = await api.linked(demo_form())
    too_long = {"end_user": {"id": "u1", "display_name": "x" * 256}}

    patched = await api.client.patch(f"/connections/{connection_id}", params=KEY, json=too_long)
    session = await api.client.post("/connect/sessions", json=too_long)

    assert patched.status_code == session.status_code == 400
    for response in (patched, session):
        error = _envelope(response.json(), "invalid_body")
        assert error["errors"][0]["path"] == ["end_user", "display_name"]
    # What PATCH may store, a reconnect session accepts (it copies the stored end user).
    fits = {"end_user": {"id": "u1", "display_name": "x" * 255, "email": "jane@example.com"}}
    assert (await api.client.patch(f"/connections/{connection_id}", params=KEY, json=fits)).status_code == 200
    reconnect = await api.client.post(
        "/connect/sessions/reconnect", json={"connection_id": connection_id, "integration_id": "bill-sandbox"}
    )
    assert reconnect.status_code == 201, reconnect.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/connect/sessions", {"end_user": {"id": ""}}),
        ("POST", "/connect/sessions", {"end_user": {"id": "u1"}, "unknown": 1}),
        ("POST", "/connect/sessions/reconnect", {}),
        ("PATCH", "/connections/x?provider_config_key=bill-sandbox", {"tags": "no"}),
        ("POST", "/connections/metadata", {"metadata": {}}),
        ("GET", "/connections?limit=0", None),
        ("GET", "/connections?unknown=1", None),
        ("GET", "/connections/x", None),
        ("GET", "/connections/x?provider_config_key=bill-sandbox&force_refresh=maybe", None),
    ],
)
async def test_validation_errors_carry_a_message(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await api.client.request(method, path, json=body)

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["message"]
    assert error["errors"], "validation errors list each problem with its path"


async def test_validation_errors_of_the_link_form_carry_a_message(api: Api) -> None:
    response = await api.link({"username": "", "password": "p", "organization_id": "o", "dev_key": "d"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"]
    assert error["errors"][0]["path"] == ["username"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/connections/abc", {"GET", "DELETE", "PATCH"}),
        ("PUT", "/connections/metadata", {"GET", "DELETE", "PATCH", "POST"}),
        ("PUT", "/connect/session", {"GET", "DELETE"}),
        ("DELETE", "/connect/sessions", {"POST"}),
        ("POST", "/integrations", {"GET"}),
    ],
)
async def test_405_lists_every_allowed_method(api: Api, method: str, path: str, allowed: set[str]) -> None:
    response = await api.client.request(method, path)

    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed
    _envelope(response.json(), "method_not_allowed")


async def test_listing_connections_needs_no_decryption(any_api: Api, demo_form: Form) -> None:
    connection_id = await any_api.linked(demo_form())
    # A secret the keyring cannot open (a key that is gone): only reading it may fail.
    async with any_api.runtime.db.transaction() as session:
        await session.execute(text("UPDATE connections SET password_enc = 'bbk1:gone:AAAA'"))

    listed = await any_api.client.get("/connections")
    read = await any_api.client.get(f"/connections/{connection_id}", params=KEY)

    assert listed.status_code == 200, listed.text
    assert [item["connection_id"] for item in listed.json()["connections"]] == [connection_id]
    assert read.status_code == 500
    assert read.json()["error"]["code"] == "decryption_failed"


async def test_nul_characters_in_connect_ui_bodies_are_refused(any_api: Api) -> None:
    token = await any_api.connect_session()
    body = {"connectionId": "c\x00", "providerConfigKey": "bill-sandbox"}

    response = await any_api.anon.post(
        "/connect/mfa/challenge", json=body, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 400, response.text
    _envelope(response.json(), "invalid_body")
