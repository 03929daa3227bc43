"""The HTTP statuses of ``docs/webhook-api-error-responses``, one row per documented error."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from billbridge.simulator import SimConfig

from .support import Demo, client_for, error_code, sign_in

BODY = {
    "name": "errors",
    "status": {"enabled": True},
    "events": [{"type": "vendor.updated", "version": "1"}],
    "notificationUrl": "https://hooks.example.com/errors",
}


@dataclass
class Setup:
    """Two signed-in organizations, each with one subscription, and an S&E token of the first."""

    demo: Demo
    own: str
    foreign: str
    token: str


@pytest.fixture
async def setup(demo: Demo, sim_world: dict[str, Any]) -> Setup:
    other = await sign_in(demo.http, sim_world, org=1)
    ids = []
    for who in (demo, other):
        headers = {**who.headers, "X-Idempotent-Key": str(uuid.uuid4())}
        response = await who.http.post("/connect-events/v3/subscriptions", headers=headers, json=BODY)
        ids.append(response.json()["id"])
    token = next(t["token"] for t in sim_world["api_tokens"] if t["organization_id"] == demo.org_id)
    return Setup(demo, ids[0], ids[1], token)


def _headers(setup: Setup, auth: str) -> dict[str, str]:
    session = setup.demo.headers
    return {
        "session": session,
        "none": {},
        "devkey only": {"devKey": session["devKey"]},
        "bad devkey": {**session, "devKey": "not-a-dev-key"},
        "bad session": {**session, "sessionId": "not-a-session"},
        "token": {"apiToken": setup.token},
        "bad token": {"apiToken": "not-a-token"},
        "empty token": {"apiToken": ""},
    }[auth]


ROWS = [
    # 400: authentication headers missing
    ("GET", "subscriptions", "none", {}, None, 400, "BDC_1102"),
    ("GET", "subscriptions", "devkey only", {}, None, 400, "BDC_1109"),
    ("GET", "subscriptions", "empty token", {}, None, 400, "BDC_1101"),
    # 400: idempotent key missing, not UUID4
    ("POST", "subscriptions", "session", {}, BODY, 400, "BDC_1129"),
    ("POST", "subscriptions", "session", {"X-Idempotent-Key": str(uuid.uuid1())}, BODY, 400, "BDC_1129"),
    ("POST", "subscriptions", "session", {"X-Idempotent-Key": "abc"}, BODY, 400, "BDC_1129"),
    # 400: request body invalid
    ("POST", "subscriptions", "session", {"X-Idempotent-Key": "new"}, b"{not json", 400, "BDC_1122"),
    ("PATCH", "subscriptions/{own}", "session", {}, b"[1]", 400, "BDC_1122"),
    # 400: request parameters missing or invalid (an unknown ID is a bad path parameter)
    ("GET", "subscriptions/no-such-id", "session", {}, None, 400, "BDC_1120"),
    ("DELETE", "subscriptions/no-such-id", "session", {}, None, 400, "BDC_1120"),
    ("GET", "events/subscription/no-such-id", "session", {}, None, 400, "BDC_1120"),
    ("POST", "events/subscription/{own}/event/no-such-event", "session", {}, None, 400, "BDC_1120"),
    ("GET", "events/subscription/{own}?max=0", "session", {}, None, 400, "BDC_1129"),
    ("GET", "events/subscription/{own}?page=garbage", "session", {}, None, 400, "BDC_1129"),
    # 401: authentication headers invalid
    ("GET", "subscriptions", "bad devkey", {}, None, 401, "BDC_1102"),
    ("GET", "subscriptions", "bad session", {}, None, 401, "BDC_1109"),
    ("GET", "subscriptions", "bad token", {}, None, 401, "BDC_1101"),
    # 403: security validation (the subscription is someone else's)
    ("GET", "subscriptions/{foreign}", "session", {}, None, 403, "BDC_1120"),
    ("PATCH", "subscriptions/{foreign}", "session", {}, {"name": "mine"}, 403, "BDC_1120"),
    ("GET", "events/subscription/{foreign}", "session", {}, None, 403, "BDC_1120"),
    ("GET", "subscriptions/{own}", "token", {}, None, 403, "BDC_1120"),
    # 404: operation not found
    ("GET", "nothing/here", "session", {}, None, 404, "BDC_1121"),
    ("DELETE", "subscriptions", "session", {}, None, 404, "BDC_1121"),
    ("GET", "Subscriptions", "session", {}, None, 404, "BDC_1121"),
    ("POST", "subscriptions/{own}/unknown", "session", {}, None, 404, "BDC_1121"),
]


@pytest.mark.parametrize(("method", "path", "auth", "headers", "body", "status", "code"), ROWS)
async def test_documented_error_statuses(
    setup: Setup,
    method: str,
    path: str,
    auth: str,
    headers: dict[str, str],
    body: Any,
    status: int,
    code: str,
) -> None:
    url = "/connect-events/v3/" + path.format(own=setup.own, foreign=setup.foreign)
    extra = {k: (str(uuid.uuid4()) if v == "new" else v) for k, v in headers.items()}
    sent = {"content": body} if isinstance(body, bytes) else {"json": body} if body is not None else {}
    response = await setup.demo.http.request(method, url, headers={**_headers(setup, auth), **extra}, **sent)
    assert (response.status_code, error_code(response)) == (status, code), response.text
    error = response.json()[0]
    assert set(error) == {"timestamp", "code", "severity", "category", "message"}


async def _sign_in(http: httpx.AsyncClient) -> Demo:
    return await sign_in(http, (await http.get("/_sim/world")).json())


async def test_rate_limits_answer_429() -> None:
    async with client_for(SimConfig(records=5, organizations=1, request_budget=2)) as http:
        demo = await _sign_in(http)
        url = "/connect-events/v3/subscriptions"
        answers = [await http.get(url, headers=demo.headers) for _ in range(3)]
        assert answers[0].status_code == 200
        assert (answers[-1].status_code, error_code(answers[-1])) == (429, "BDC_1144")


async def test_server_errors_answer_500(demo: Demo) -> None:
    await demo.http.post("/_sim/faults", json={"error_rate": 1.0})
    response = await demo.http.get("/connect-events/v3/events/catalog", headers=demo.headers)
    assert (response.status_code, error_code(response)) == (500, "BDC_1001")
