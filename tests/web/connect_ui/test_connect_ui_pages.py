"""GET / and /connect: the page rendered for a session, for no session, and for an expired one."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from web_harness import Api

Form = Callable[..., dict[str, str]]


def _context(html: str) -> dict[str, Any] | None:
    match = re.search(r'<script type="application/json" id="bb-context">(.*?)</script>', html, re.S)
    return json.loads(match.group(1)) if match else None


@pytest.mark.parametrize("path", ["/", "/connect", "/connect/"])
async def test_without_a_token_the_page_waits_for_one(api: Api, path: str) -> None:
    response = await api.anon.get(path, params={"apiURL": "https://elsewhere.example.com"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert _context(response.text) is None
    assert '<script type="module" src="/connect/static/connect.js">' in response.text
    # apiURL is never used: the page talks only to the server that served it.
    assert "elsewhere.example.com" not in response.text


async def test_a_session_renders_both_environments_production_first(api: Api) -> None:
    token = await api.connect_session()
    response = await api.anon.get("/connect", params={"session_token": token})

    assert response.status_code == 200
    context = _context(response.text)
    assert context is not None
    assert [(i["key"], i["environment"]) for i in context["integrations"]] == [
        ("bill", "production"),
        ("bill-sandbox", "sandbox"),
    ]
    assert context["reconnect"] is None
    assert context["mfaRequired"] is False
    assert context["expiresAt"].endswith("Z")
    assert token not in response.text.replace(f"session_token={token}", "")


async def test_one_allowed_integration_renders_its_wording(api: Api) -> None:
    token = await api.connect_session(allowed_integrations=["bill-sandbox"])
    response = await api.anon.get("/connect", params={"session_token": token})

    context = _context(response.text)
    assert context is not None
    assert [i["key"] for i in context["integrations"]] == ["bill-sandbox"]
    assert 'class="env-sandbox"' in response.text
    assert '<strong id="environment-name">Sandbox</strong>' in response.text


async def test_reconnect_prefills_username_and_organization_never_secrets(api: Api, demo_form: Form) -> None:
    form = demo_form()
    connection_id = await api.linked(form)
    answer = await api.client.post(
        "/connect/sessions/reconnect", json={"connection_id": connection_id, "integration_id": "bill-sandbox"}
    )
    token = answer.json()["data"]["token"]
    response = await api.anon.get("/connect", params={"session_token": token})

    context = _context(response.text)
    assert context is not None
    assert context["reconnect"] == {
        "connectionId": connection_id,
        "providerConfigKey": "bill-sandbox",
        "username": form["username"],
        "organizationId": form["organization_id"],
    }
    assert f'value="{form["username"]}"' in response.text
    assert f'value="{form["organization_id"]}"' in response.text
    assert form["password"] not in response.text
    assert form["dev_key"] not in response.text


@pytest.mark.parametrize("token", ["nango_connect_session_" + "a" * 64, "not-a-token", ""])
async def test_an_unknown_token_renders_the_expiry_message(api: Api, token: str) -> None:
    response = await api.anon.get("/connect", params={"session_token": token})

    assert response.status_code == 401
    context = _context(response.text)
    assert context is not None
    assert context["error"] == "unknown_connect_session_token"
    assert "expired" in context["message"]


async def test_an_expired_session_renders_the_expiry_message(api: Api) -> None:
    token, _ = await api.runtime.connect_sessions.create(
        end_user={"id": "u1"},
        organization=None,
        allowed_integrations=None,
        integrations_config_defaults={},
        tags={},
        webhook_url_override=None,
        reconnect=None,
        ttl=timedelta(seconds=-1),
    )
    response = await api.anon.get("/connect", params={"session_token": token})
    assert response.status_code == 401
    assert (_context(response.text) or {}).get("error") == "unknown_connect_session_token"


async def test_static_files_are_served_with_revalidation(api: Api) -> None:
    for name, media_type in [
        ("connect.js", "text/javascript"),
        ("connect.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
    ]:
        response = await api.anon.get(f"/connect/static/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(media_type)
        assert response.headers["cache-control"] == "no-cache"
        cached = await api.anon.get(
            f"/connect/static/{name}", headers={"If-None-Match": response.headers["etag"]}
        )
        assert cached.status_code == 304
    for name in ("nope.js", "..%2Fpages.py", "pages.py", ".hidden.js"):
        assert (await api.anon.get(f"/connect/static/{name}")).status_code == 404, name


class TestConfiguredFraming:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"connect_frame_ancestors": "'self' https://app.example.com", "connect_mfa_required": True}

    async def test_frame_ancestors_and_mfa_come_from_settings(self, api: Api) -> None:
        token = await api.connect_session(mfa_required=False)
        response = await api.anon.get("/connect", params={"session_token": token})

        assert "frame-ancestors 'self' https://app.example.com" in response.headers["content-security-policy"]
        # The deployment's setting asks for MFA even when the session does not.
        assert (_context(response.text) or {})["mfaRequired"] is True
