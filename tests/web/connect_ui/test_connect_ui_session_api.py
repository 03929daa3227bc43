"""GET /connect/ui/context: the page's view of a session when the token came by postMessage."""

from __future__ import annotations

import pytest
from web_harness import Api


async def test_context_needs_a_valid_token(api: Api) -> None:
    assert (await api.anon.get("/connect/ui/context")).status_code == 401
    unknown = await api.anon.get(
        "/connect/ui/context", headers={"Authorization": "Bearer nango_connect_session_" + "b" * 64}
    )
    assert unknown.status_code == 401
    assert unknown.json()["error"]["code"] == "unknown_connect_session_token"
    secret = await api.client.get("/connect/ui/context")
    assert secret.status_code == 401  # the API secret key is not a connect session


@pytest.mark.parametrize(("asked", "expected"), [(True, True), (False, False), (None, False)])
async def test_context_reports_the_session(api: Api, asked: bool | None, expected: bool) -> None:
    body = {} if asked is None else {"mfa_required": asked}
    token = await api.connect_session(allowed_integrations=["bill-sandbox", "bill"], **body)
    response = await api.anon.get("/connect/ui/context", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    context = response.json()
    assert [i["key"] for i in context["integrations"]] == ["bill", "bill-sandbox"]
    assert context["mfaRequired"] is expected
    assert context["reconnect"] is None
