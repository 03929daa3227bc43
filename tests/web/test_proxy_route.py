"""/proxy/{path}: headers, auth injection, pass-through of BILL's answers, and refusals."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from web_harness import SANDBOX_GATEWAY, Api

Form = Callable[..., dict[str, str]]


def _ids(connection_id: str, key: str = "bill-sandbox") -> dict[str, str]:
    return {"Connection-Id": connection_id, "Provider-Config-Key": key}


@pytest.fixture
async def linked(api: Api, demo_form: Form) -> str:
    return await api.linked(demo_form())


async def test_get_vendors_through_the_proxy(api: Api, linked: str) -> None:
    response = await api.client.get("/proxy/v3/vendors", params={"max": "5"}, headers=_ids(linked))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert len(body["results"]) == 5
    assert all(vendor["id"].startswith("009") for vendor in body["results"])
    assert (await api.sim_stats())["logins"] == 1


async def test_post_creates_and_the_object_can_be_read_back(api: Api, linked: str) -> None:
    created = await api.client.post(
        "/proxy/v3/vendors",
        headers=_ids(linked),
        json={"name": "Proxy Vendor Ltd", "accountType": "BUSINESS", "email": "ap@proxy.example"},
    )
    assert created.status_code in (200, 201), created.text
    vendor_id = created.json()["id"]

    read = await api.client.get(f"/proxy/v3/vendors/{vendor_id}", headers=_ids(linked))

    assert read.status_code == 200
    assert read.json()["name"] == "Proxy Vendor Ltd"


async def test_bill_errors_pass_through_with_their_status(api: Api, linked: str) -> None:
    response = await api.client.get("/proxy/v3/vendors/00900000000000000000", headers=_ids(linked))

    assert response.status_code == 404
    assert response.json()[0]["code"].startswith("BDC_")


async def test_nango_proxy_headers_are_forwarded_and_caller_auth_is_replaced(api: Api, linked: str) -> None:
    headers = {**_ids(linked), "Nango-Proxy-sessionId": "stale-session", "Nango-Proxy-devKey": "stale-key"}

    response = await api.client.get("/proxy/v3/vendors", params={"max": "1"}, headers=headers)

    assert response.status_code == 200


async def test_expired_session_is_renewed_once_and_the_call_replayed(api: Api, linked: str) -> None:
    await api.sim.post("/_sim/sessions/invalidate", json={})

    response = await api.client.get("/proxy/v3/vendors", params={"max": "1"}, headers=_ids(linked))

    assert response.status_code == 200
    assert (await api.sim_stats())["logins"] == 2


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Provider-Config-Key": "bill-sandbox"}, 400, "invalid_headers"),
        ({"Connection-Id": "x"}, 400, "invalid_headers"),
        ({"Connection-Id": "ghost", "Provider-Config-Key": "bill-sandbox"}, 400, "unknown_connection"),
        ({"Connection-Id": "ghost", "Provider-Config-Key": "xero"}, 404, "unknown_provider_config"),
    ],
)
async def test_identification_errors(api: Api, headers: dict[str, str], status: int, code: str) -> None:
    response = await api.client.get("/proxy/v3/vendors", headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_bad_control_headers_are_400(api: Api, linked: str) -> None:
    for extra in ({"Retries": "many"}, {"Decompress": "perhaps"}, {"Retry-On": "429,abc"}, {"Retries": "50"}):
        response = await api.client.get("/proxy/v3/vendors", headers={**_ids(linked), **extra})
        assert response.status_code == 400, extra
        assert response.json()["error"]["code"] == "invalid_headers"


async def test_base_url_override_only_to_the_configured_gateway(api: Api, linked: str) -> None:
    same = await api.client.get(
        "/proxy/v3/vendors",
        params={"max": "1"},
        headers={**_ids(linked), "Base-Url-Override": SANDBOX_GATEWAY},
    )
    elsewhere = await api.client.get(
        "/proxy/v3/vendors", headers={**_ids(linked), "Base-Url-Override": "https://evil.example.com"}
    )
    empty = await api.client.get(
        "/proxy/v3/vendors", params={"max": "1"}, headers={**_ids(linked), "Base-Url-Override": ""}
    )

    assert same.status_code == 200
    assert elsewhere.status_code == 400
    assert empty.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/proxy/v3/%2e%2e/%2e%2e/_sim/world",
        "/proxy/v3/vendors/..%2F..%2F_sim",
        "/proxy/v2/x",
        "/proxy/v3/logout",
    ],
)
async def test_paths_cannot_leave_the_api(api: Api, linked: str, path: str) -> None:
    response = await api.client.get(path, headers=_ids(linked))
    assert response.status_code == 400


async def test_proxy_needs_the_secret_key(api: Api, linked: str) -> None:
    response = await api.anon.get("/proxy/v3/vendors", headers=_ids(linked))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_auth_header"


async def test_patch_and_delete_methods_pass_through(api: Api, linked: str) -> None:
    first = (await api.client.get("/proxy/v3/vendors", params={"max": "1"}, headers=_ids(linked))).json()
    vendor_id = first["results"][0]["id"]

    patched = await api.client.patch(
        f"/proxy/v3/vendors/{vendor_id}", headers=_ids(linked), json={"shortName": "Patched"}
    )
    read = await api.client.get(f"/proxy/v3/vendors/{vendor_id}", headers=_ids(linked))
    removed = await api.client.delete(f"/proxy/v3/vendors/{vendor_id}", headers=_ids(linked))

    assert patched.status_code == 200, patched.text
    assert read.json()["shortName"] == "Patched"
    # BILL archives instead of deleting vendors; its own refusal comes back as it was sent.
    assert removed.status_code == 404
    assert removed.json()[0]["code"] == "BDC_1121"
