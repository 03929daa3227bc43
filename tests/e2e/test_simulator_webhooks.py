"""The simulator as a real process delivers a signed ``vendor.updated`` to a receiver on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_stack import BILLBRIDGE

from support.processes import Running, start
from support.webhook_receiver import webhook_receiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[str]:
    running: Running = start(
        [BILLBRIDGE, "simulator", "--port", "0", "--records", "20"],
        log=tmp_path / "simulator.log",
        ready=r"listening on (http://127\.0\.0\.1:\d+)",
    )
    try:
        yield running.ready.group(1)
    finally:
        running.stop()


async def test_vendor_updated_reaches_a_loopback_receiver_signed(simulator: str) -> None:
    async with httpx.AsyncClient(base_url=simulator, timeout=10) as sim, webhook_receiver() as receiver:
        world = (await sim.get("/_sim/world")).json()
        org = world["organizations"][0]
        login = {
            "username": org["users"][0]["username"],
            "password": org["users"][0]["password"],
            "organizationId": org["id"],
            "devKey": world["dev_keys"][0]["key"],
        }
        session = (await sim.post("/connect/v3/login", json=login)).json()
        headers = {"devKey": login["devKey"], "sessionId": session["sessionId"]}
        subscription = await sim.post(
            "/connect-events/v3/subscriptions",
            headers={**headers, "X-Idempotent-Key": str(uuid.uuid4())},
            json={
                "name": "vendor changes",
                "status": {"enabled": True},
                "events": [{"type": "vendor.updated", "version": "1"}],
                "notificationUrl": receiver.url,
            },
        )
        assert subscription.status_code == 200, subscription.text
        security_key = subscription.json()["securityKey"]
        vendor = (await sim.get("/connect/v3/vendors", headers=headers, params={"max": 1})).json()["results"][
            0
        ]

        changed = await sim.post(
            "/_sim/objects",
            json={
                "action": "change",
                "family": "vendors",
                "id": vendor["id"],
                "fields": {"name": "Renamed Ltd"},
            },
        )
        assert changed.status_code == 200
        [notification] = await receiver.wait_for(1, timeout=20)
        deliveries = (await sim.post("/_sim/webhooks/flush")).json()["deliveries"]

    # Verified as BILL documents it: HMAC-SHA256 of the body keyed with the securityKey, base64.
    expected = base64.b64encode(hmac.new(security_key.encode(), notification.body, hashlib.sha256).digest())
    assert hmac.compare_digest(notification.headers["x-bill-sha-signature"].encode(), expected)
    payload = json.loads(notification.body)
    assert payload["metadata"]["eventType"] == "vendor.updated"
    assert payload["metadata"]["subscriptionId"] == subscription.json()["id"]
    assert payload["metadata"]["organizationId"] == org["id"]
    assert payload["vendor"]["id"] == vendor["id"]
    assert payload["vendor"]["name"] == "Renamed Ltd"
    assert [(d["eventId"], d["status"], d["responseCode"]) for d in deliveries] == [
        (payload["metadata"]["eventId"], "delivered", 200)
    ]
