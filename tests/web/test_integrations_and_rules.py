"""GET /integrations, and the rules of every route: CORS, JSON gate, envelope, trailing slash."""

from __future__ import annotations

import pytest
from web_harness import Api


async def test_list_integrations_with_the_secret_key(api: Api) -> None:
    response = await api.client.get("/integrations")

    assert response.status_code == 200
    data = response.json()["data"]
    assert {item["unique_key"] for item in data} == {"bill", "bill-sandbox"}
    sandbox = next(item for item in data if item["unique_key"] == "bill-sandbox")
    assert sandbox["provider"] == "bill"
    assert sandbox["display_name"] == "Bill (Connect API Sandbox)"
    assert sandbox["created_at"].endswith("+00:00")
    assert (await api.client.get("/integrations/")).json() == response.json()


async def test_list_integrations_with_a_connect_token_shows_the_allowed_ones(api: Api) -> None:
    token = await api.connect_session(allowed_integrations=["bill-sandbox"])

    response = await api.anon.get("/integrations", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert [item["unique_key"] for item in response.json()["data"]] == ["bill-sandbox"]


async def test_get_one_integration_and_includes(api: Api) -> None:
    plain = await api.client.get("/integrations/bill")
    webhook = await api.client.get("/integrations/bill", params={"include": "webhook"})
    missing = await api.client.get("/integrations/xero")
    bad = await api.client.get("/integrations/bill", params={"include": "secrets"})

    assert plain.json()["data"]["unique_key"] == "bill"
    assert "webhook_url" not in plain.json()["data"]
    assert webhook.json()["data"]["webhook_url"] is None
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert bad.status_code == 400


async def test_integration_detail_needs_the_secret_key_not_a_connect_token(api: Api) -> None:
    token = await api.connect_session()
    response = await api.anon.get("/integrations/bill", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_cors_preflight_and_simple_requests(api: Api) -> None:
    preflight = await api.anon.options(
        "/auth/bill/bill-sandbox",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    simple = await api.client.get("/integrations", headers={"Origin": "https://app.example.com"})

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-max-age"] == "600"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert simple.headers["access-control-allow-origin"] == "*"
    assert "X-Nango-Signature" in simple.headers["access-control-expose-headers"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/connect/sessions"), ("patch", "/connections/metadata"), ("get", "/connections")],
)
async def test_json_gate_refuses_other_content_types(api: Api, method: str, path: str) -> None:
    response = await api.client.request(method, path, content="a=b", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "invalid_content_type"


async def test_invalid_json_and_unknown_routes_use_the_envelope(api: Api) -> None:
    broken = await api.client.post(
        "/connect/sessions", content="{not json", headers={"Content-Type": "application/json"}
    )
    unknown = await api.client.get("/nothing-here")
    wrong_method = await api.client.put("/connect/sessions", json={})

    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "invalid_body"
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_health_answers_without_auth(api: Api) -> None:
    response = await api.anon.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
