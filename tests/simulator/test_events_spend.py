"""Spend & Expense subscriptions: made with the apiToken header, for spend.* events only."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from billbridge.simulator.families import SPEND_CATALOG
from support.webhook_receiver import bill_signature, webhook_receiver

from .support import Demo, error_code

EVENTS = "/connect-events/v3"


def body(url: str, *events: str) -> dict[str, Any]:
    return {
        "name": "spend",
        "status": {"enabled": True},
        "events": [{"type": e, "version": "1"} for e in events],
        "notificationUrl": url,
    }


@pytest.fixture
def token(sim_world: dict[str, Any], demo: Demo) -> dict[str, str]:
    """The apiToken header of the demo organization."""
    found = next(t["token"] for t in sim_world["api_tokens"] if t["organization_id"] == demo.org_id)
    return {"apiToken": found}


async def create(
    http: httpx.AsyncClient, headers: dict[str, str], payload: dict[str, Any], path: str = ""
) -> Any:
    sent = {**headers, "X-Idempotent-Key": str(uuid.uuid4())}
    return await http.post(f"{EVENTS}{path or '/subscriptions'}", headers=sent, json=payload)


async def test_the_token_catalog_lists_spend_events(demo: Demo, token: dict[str, str]) -> None:
    catalog = (await demo.http.get(f"{EVENTS}/events/catalog", headers=token)).json()
    types = {e["type"] for e in catalog}
    assert "spend.transaction.updated" in types
    assert "spend.reimbursement.deleted" in types
    assert all(t.startswith("spend.") for t in types)


async def test_spend_subscriptions_by_api_token(demo: Demo, token: dict[str, str]) -> None:
    created = await create(demo.http, token, body("https://hooks.example.com/s", "spend.transaction.updated"))
    assert created.status_code == 200, created.text
    sub = created.json()
    assert sub["organizationId"] == demo.org_id
    assert sub["securityKey"]
    # The token sees its subscriptions, the session sees its own, not the other kind.
    assert [s["id"] for s in (await demo.http.get(f"{EVENTS}/subscriptions", headers=token)).json()] == [
        sub["id"]
    ]
    assert (await demo.http.get(f"{EVENTS}/subscriptions", headers=demo.headers)).json() == []
    assert (await demo.http.get(f"{EVENTS}/subscriptions/{sub['id']}", headers=token)).status_code == 200
    # AP/AR events need a session; spend events need the token.
    wrong = await create(demo.http, token, body("https://hooks.example.com/v", "vendor.updated"))
    assert (wrong.status_code, error_code(wrong)) == (400, "BDC_1129")
    spend_by_session = await create(
        demo.http, demo.headers, body("https://hooks.example.com/x", "spend.transaction.updated")
    )
    assert error_code(spend_by_session) == "BDC_1129"


async def test_the_postman_spend_path(demo: Demo, token: dict[str, str]) -> None:
    payload = body("https://hooks.example.com/p", "spend.reimbursement.created")
    created = await create(demo.http, token, payload, "/spend/subscriptions")
    assert created.status_code == 200
    listed = (await demo.http.get(f"{EVENTS}/spend/subscriptions", headers=token)).json()
    assert [s["id"] for s in listed] == [created.json()["id"]]
    by_session = await demo.http.get(f"{EVENTS}/spend/subscriptions", headers=demo.headers)
    assert (by_session.status_code, error_code(by_session)) == (400, "BDC_1102")


async def test_spend_changes_are_delivered(demo: Demo, token: dict[str, str]) -> None:
    transaction = (await demo.http.get("/connect/v3/spend/transactions", headers=token)).json()["results"][0]
    tx_id = transaction.get("id") or transaction["uuid"]
    async with webhook_receiver() as receiver:
        created = await create(demo.http, token, body(receiver.url, "spend.transaction.updated"))
        key = created.json()["securityKey"]
        change = {"action": "change", "space": "spend", "family": "transactions", "id": tx_id}
        await demo.http.post("/_sim/objects", json={**change, "fields": {"merchantName": "Hooked Cafe"}})
        [received] = await receiver.wait_for(1)
    assert received.headers["x-bill-sha-signature"] == bill_signature(key, received.body)
    payload = received.body.decode()
    assert '"eventType":"spend.transaction.updated"' in payload
    assert '"merchantName":"Hooked Cafe"' in payload


async def test_reimbursements_raise_created_and_deleted(
    demo: Demo, token: dict[str, str], sim_app: Starlette
) -> None:
    user_id = (await demo.http.get("/connect/v3/spend/users", headers=token)).json()["results"][0]["id"]
    async with webhook_receiver() as receiver:
        events = ("spend.reimbursement.created", "spend.reimbursement.deleted")
        await create(demo.http, token, body(receiver.url, *events))
        made = await demo.http.post(
            "/connect/v3/spend/reimbursements", headers=token, json={"userId": user_id, "amount": 12.5}
        )
        assert made.status_code == 200, made.text
        state = sim_app.state.sim
        org = state.world.organization(demo.org_id)
        state.data.family(org, SPEND_CATALOG["reimbursements"], space="spend").delete(made.json()["id"])
        got = [json.loads(r.body) for r in await receiver.wait_for(2)]
    assert sorted(p["metadata"]["eventType"] for p in got) == list(events)
    assert [p["reimbursement"]["id"] for p in got] == [made.json()["id"]] * 2
