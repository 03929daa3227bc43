"""Record changes become signed notifications, retried on the simulated clock, kept in the history."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from billbridge.simulator import SimConfig, webhook_delivery
from support.webhook_receiver import Received, bill_signature, webhook_receiver

from .support import FROZEN_START, Demo, client_for, sign_in

VENDOR = {
    "name": "Hooked Supply",
    "accountType": "BUSINESS",
    "email": "ap@hooked.example",
    "phone": "5550100",
}
VENDOR_EVENTS = ["vendor.created", "vendor.updated", "vendor.archived", "vendor.restored"]


async def subscribe(demo: Demo, url: str, events: list[str]) -> dict[str, Any]:
    body = {
        "name": "test",
        "status": {"enabled": True},
        "events": [{"type": e, "version": "1"} for e in events],
        "notificationUrl": url,
    }
    headers = {**demo.headers, "X-Idempotent-Key": str(uuid.uuid4())}
    response = await demo.http.post("/connect-events/v3/subscriptions", headers=headers, json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def deliveries(http: httpx.AsyncClient, **query: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await http.get("/_sim/webhooks/deliveries", params=query)).json()[
        "deliveries"
    ]
    return found


def verified(received: Received, key: str) -> dict[str, Any]:
    """The payload of a notification whose signature checks out with ``key``."""
    assert received.headers["x-bill-sha-signature"] == bill_signature(key, received.body)
    payload: dict[str, Any] = json.loads(received.body)
    return payload


@pytest.fixture
async def frozen() -> AsyncIterator[Demo]:
    """A simulator on a frozen clock: retries happen only when the test advances it."""
    async with client_for(SimConfig(records=10, organizations=2, clock_start=FROZEN_START)) as http:
        yield await sign_in(http, (await http.get("/_sim/world")).json())


async def test_api_changes_are_delivered_signed(demo: Demo) -> None:
    async with webhook_receiver() as receiver:
        sub = await subscribe(demo, receiver.url, VENDOR_EVENTS)
        created = (await demo.post("/vendors", VENDOR)).json()
        patched = (await demo.patch(f"/vendors/{created['id']}", {"name": "Hooked Supply Co"})).json()
        await demo.post(f"/vendors/{created['id']}/archive")
        await demo.post(f"/vendors/{created['id']}/restore")
        # Notifications may arrive out of order (BILL says so too): look them up by event type.
        got = {
            p["metadata"]["eventType"]: p
            for p in (verified(r, sub["securityKey"]) for r in await receiver.wait_for(4))
        }
    assert sorted(got) == sorted(VENDOR_EVENTS)
    first = got["vendor.created"]["metadata"]
    assert first["subscriptionId"] == sub["id"]
    assert first["organizationId"] == demo.org_id
    assert first["version"] == "1"
    assert len({p["metadata"]["eventId"] for p in got.values()}) == 4
    assert got["vendor.created"]["vendor"] == created
    assert got["vendor.updated"]["vendor"] == patched
    assert got["vendor.archived"]["vendor"]["archived"] is True
    assert got["vendor.restored"]["vendor"]["archived"] is False


async def test_control_surface_changes_are_delivered(demo: Demo) -> None:
    vendor_id = (await demo.get("/vendors", max=1)).json()["results"][0]["id"]
    async with webhook_receiver() as receiver:
        sub = await subscribe(demo, receiver.url, ["vendor.updated", "vendor.archived"])
        change = {
            "action": "change",
            "family": "vendors",
            "id": vendor_id,
            "fields": {"name": "Behind The Back"},
        }
        await demo.http.post("/_sim/objects", json=change)
        await demo.http.post(
            "/_sim/objects", json={"action": "archive", "family": "vendors", "id": vendor_id}
        )
        got = {
            p["metadata"]["eventType"]: p
            for p in (verified(r, sub["securityKey"]) for r in await receiver.wait_for(2))
        }
    assert sorted(got) == ["vendor.archived", "vendor.updated"]
    assert {p["vendor"]["id"] for p in got.values()} == {vendor_id}
    assert got["vendor.updated"]["vendor"]["name"] == "Behind The Back"


async def test_only_subscribed_events_of_the_organization_are_sent(
    demo: Demo, sim_world: dict[str, Any]
) -> None:
    other = await sign_in(demo.http, sim_world, org=1)
    await subscribe(other, "https://hooks.example.com/other-org", ["vendor.updated"])
    await subscribe(demo, "https://hooks.example.com/bills", ["bill.created"])
    vendor_id = (await demo.get("/vendors", max=1)).json()["results"][0]["id"]
    await demo.patch(f"/vendors/{vendor_id}", {"name": "Nobody Listens"})
    assert await deliveries(demo.http) == []


async def test_bill_notifications_carry_the_vendor_name(frozen: Demo) -> None:
    async with webhook_receiver() as receiver:
        sub = await subscribe(frozen, receiver.url, ["bill.updated"])
        bill = (await frozen.get("/bills", max=1)).json()["results"][0]
        await frozen.patch(f"/bills/{bill['id']}", {"description": "hooked"})
        [payload] = [verified(r, sub["securityKey"]) for r in await receiver.wait_for(1)]
    vendor = (await frozen.get(f"/vendors/{bill['vendorId']}")).json()
    assert payload["bill"]["vendorName"] == vendor["name"]


async def test_retries_follow_the_backoff_on_the_simulated_clock(frozen: Demo) -> None:
    http = frozen.http
    vendor_id = (await frozen.get("/vendors", max=1)).json()["results"][0]["id"]
    async with webhook_receiver(statuses=[500, 204, 200]) as receiver:
        sub = await subscribe(frozen, receiver.url, ["vendor.updated"])
        await frozen.patch(f"/vendors/{vendor_id}", {"name": "Retry Me"})
        await receiver.wait_for(1)
        [first] = (await http.post("/_sim/webhooks/flush")).json()["deliveries"]
        assert (first["status"], first["attempts"], first["responseCodes"]) == ("pending", 1, [500])
        assert first["nextAttemptTime"] == "2025-01-15T12:00:02.000+00:00"
        await http.post("/_sim/clock/advance", json={"seconds": 1.5})
        [waiting] = (await http.post("/_sim/webhooks/flush")).json()["deliveries"]
        assert waiting["attempts"] == 1  # not due yet
        await http.post("/_sim/clock/advance", json={"seconds": 0.5})
        await receiver.wait_for(2)
        [second] = (await http.post("/_sim/webhooks/flush")).json()["deliveries"]
        # Only HTTP 200 counts as received.
        assert (second["status"], second["responseCodes"]) == ("pending", [500, 204])
        assert second["nextAttemptTime"] == "2025-01-15T12:00:06.000+00:00"
        await http.post("/_sim/clock/advance", json={"seconds": 4})
        got = await receiver.wait_for(3)
        [done] = (await http.post("/_sim/webhooks/flush")).json()["deliveries"]
    assert (done["status"], done["attempts"], done["responseCode"]) == ("delivered", 3, 200)
    assert len({r.body for r in got}) == 1  # the same notification each time
    history = (
        await http.get(f"/connect-events/v3/events/subscription/{sub['id']}", headers=frozen.headers)
    ).json()
    assert history["results"][0]["statusCode"] == 200


async def test_a_notification_that_keeps_failing_disables_the_subscription(frozen: Demo) -> None:
    http = frozen.http
    vendor_id = (await frozen.get("/vendors", max=1)).json()["results"][0]["id"]
    async with webhook_receiver(statuses=[500] * 5) as receiver:
        sub = await subscribe(frozen, receiver.url, ["vendor.updated"])
        await frozen.patch(f"/vendors/{vendor_id}", {"name": "Failing"})
        for attempt, delay in enumerate([2, 4, 8, 16], start=1):
            await receiver.wait_for(attempt)
            await http.post("/_sim/webhooks/flush")
            await http.post("/_sim/clock/advance", json={"seconds": delay})
        await receiver.wait_for(5)
        [failed] = (await http.post("/_sim/webhooks/flush")).json()["deliveries"]
        assert (failed["status"], failed["attempts"], failed["responseCodes"]) == ("failed", 5, [500] * 5)
        url = f"/connect-events/v3/subscriptions/{sub['id']}"
        assert (await http.get(url, headers=frozen.headers)).json()["status"] == {"enabled": False}
        await frozen.patch(f"/vendors/{vendor_id}", {"name": "Unheard"})
        assert len(await deliveries(http)) == 1  # a disabled subscription gets nothing
        await http.patch(url, headers=frozen.headers, json={"status": {"enabled": True}})
        await frozen.patch(f"/vendors/{vendor_id}", {"name": "Heard Again"})
        [payload] = [verified(r, sub["securityKey"]) for r in (await receiver.wait_for(6))[5:]]
    assert payload["vendor"]["name"] == "Heard Again"


async def test_unreachable_receivers_count_as_failures(frozen: Demo) -> None:
    async with webhook_receiver() as receiver:
        url = receiver.url
    await subscribe(frozen, url, ["vendor.updated"])  # nothing listens there any more
    vendor_id = (await frozen.get("/vendors", max=1)).json()["results"][0]["id"]
    await frozen.patch(f"/vendors/{vendor_id}", {"name": "Into The Void"})
    [delivery] = (await frozen.http.post("/_sim/webhooks/flush")).json()["deliveries"]
    assert (delivery["attempts"], delivery["responseCode"], delivery["status"]) == (1, None, "pending")
    assert "ConnectError" in delivery["lastError"]


async def test_history_resend_and_test_event(frozen: Demo) -> None:
    http, headers = frozen.http, frozen.headers
    vendor_id = (await frozen.get("/vendors", max=1)).json()["results"][0]["id"]
    async with webhook_receiver() as receiver:
        sub = await subscribe(frozen, receiver.url, ["vendor.updated"])
        for n in range(3):
            await frozen.patch(f"/vendors/{vendor_id}", {"name": f"Name {n}"})
        await receiver.wait_for(3)
        base = f"/connect-events/v3/events/subscription/{sub['id']}"
        page = (await http.get(base, headers=headers, params={"max": 2})).json()
        rest = (await http.get(base, headers=headers, params={"page": page["nextPage"]})).json()
        events = page["results"] + rest["results"]
        assert "nextPage" not in rest
        assert "prevPage" in rest
        assert [e["type"] for e in events] == ["vendor.updated"] * 3
        assert events[0]["subscriptionId"] == sub["id"]
        # The payload is the notification body, as a JSON-escaped string.
        assert [json.loads(e["payload"])["vendor"]["name"] for e in events] == ["Name 0", "Name 1", "Name 2"]
        assert {e["payload"].encode() for e in events} == {r.body for r in receiver.received}
        resent = await http.post(f"{base}/event/{events[0]['id']}", headers=headers)
        assert resent.json()["id"] == events[0]["id"]
        again = (await receiver.wait_for(4))[3]
        assert verified(again, sub["securityKey"])["metadata"]["eventId"] == events[0]["id"]
        test = await http.post(f"/connect-events/v3/subscriptions/{sub['id']}/test", headers=headers)
        tested = verified((await receiver.wait_for(5))[4], sub["securityKey"])
    assert tested["metadata"] == {
        **tested["metadata"],
        "eventType": "vendor.updated",
        "eventId": test.json()["id"],
    }
    assert tested["vendor"]["id"]


async def test_history_lasts_180_days(frozen: Demo) -> None:
    http = frozen.http
    world = (await http.get("/_sim/world")).json()
    await subscribe(frozen, "https://hooks.example.com/ttl", ["vendor.updated"])
    sub_id = (await http.get("/connect-events/v3/subscriptions", headers=frozen.headers)).json()[0]["id"]
    vendor_id = (await frozen.get("/vendors", max=1)).json()["results"][0]["id"]
    await frozen.patch(f"/vendors/{vendor_id}", {"name": "Old News"})
    await http.post("/_sim/clock/advance", json={"seconds": 179 * 86_400})
    demo = await sign_in(http, world)
    url = f"/connect-events/v3/events/subscription/{sub_id}"
    assert len((await http.get(url, headers=demo.headers)).json()["results"]) == 1
    await http.post("/_sim/clock/advance", json={"seconds": 2 * 86_400})
    demo = await sign_in(http, world)
    assert (await http.get(url, headers=demo.headers)).json()["results"] == []


async def test_rotated_keys_sign_later_notifications(frozen: Demo) -> None:
    vendor_id = (await frozen.get("/vendors", max=1)).json()["results"][0]["id"]
    async with webhook_receiver() as receiver:
        sub = await subscribe(frozen, receiver.url, ["vendor.updated"])
        headers = {**frozen.headers, "X-Idempotent-Key": str(uuid.uuid4())}
        url = f"/connect-events/v3/subscriptions/{sub['id']}/security-key"
        new_key = (await frozen.http.post(url, headers=headers)).json()["securityKey"]
        await frozen.patch(f"/vendors/{vendor_id}", {"name": "New Key"})
        [received] = await receiver.wait_for(1)
    assert verified(received, new_key)
    assert received.headers["x-bill-sha-signature"] != bill_signature(sub["securityKey"], received.body)


async def test_reset_drops_subscriptions_and_deliveries(frozen: Demo) -> None:
    await subscribe(frozen, "https://hooks.example.com/reset", ["vendor.updated"])
    vendor_id = (await frozen.get("/vendors", max=1)).json()["results"][0]["id"]
    await frozen.patch(f"/vendors/{vendor_id}", {"name": "Before Reset"})
    assert len(await deliveries(frozen.http)) == 1
    await frozen.http.post("/_sim/reset")
    assert await deliveries(frozen.http) == []


async def test_deliveries_can_be_filtered(demo: Demo) -> None:
    async with webhook_receiver() as receiver:
        sub = await subscribe(demo, receiver.url, ["vendor.updated"])
        vendor_id = (await demo.get("/vendors", max=1)).json()["results"][0]["id"]
        await demo.patch(f"/vendors/{vendor_id}", {"name": "Filtered"})
        await receiver.wait_for(1)
        await demo.http.post("/_sim/webhooks/flush")
    assert len(await deliveries(demo.http, subscription_id=sub["id"], status="delivered")) == 1
    assert await deliveries(demo.http, status="pending") == []
    assert await deliveries(demo.http, event_type="vendor.created") == []


async def test_bulk_additions_each_raise_an_event(frozen: Demo) -> None:
    await subscribe(frozen, "https://hooks.example.com/bulk", ["vendor.created"])
    added = await frozen.http.post("/_sim/objects", json={"action": "add", "family": "vendors", "count": 300})
    ids = {r["id"] for r in added.json()["results"]}
    found = await deliveries(frozen.http, event_type="vendor.created")
    assert len(found) == 300
    assert {json.loads(d["payload"])["vendor"]["id"] for d in found} == ids


async def test_a_full_queue_drops_new_notifications(frozen: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_delivery, "MAX_PENDING", 2)
    await subscribe(frozen, "https://hooks.example.com/full", ["vendor.created"])
    await frozen.http.post("/_sim/objects", json={"action": "add", "family": "vendors", "count": 3})
    found = await deliveries(frozen.http)
    assert [d["status"] for d in found] == ["pending", "pending", "abandoned"]
    assert "waiting" in found[2]["lastError"]


async def test_retries_go_to_the_current_url_and_stop_when_disabled(frozen: Demo) -> None:
    http = frozen.http
    vendor_id = (await frozen.get("/vendors", max=1)).json()["results"][0]["id"]
    async with webhook_receiver(statuses=[500]) as old, webhook_receiver() as new:
        sub = await subscribe(frozen, old.url, ["vendor.updated"])
        url = f"/connect-events/v3/subscriptions/{sub['id']}"
        await frozen.patch(f"/vendors/{vendor_id}", {"name": "Moving"})
        await old.wait_for(1)
        await http.post("/_sim/webhooks/flush")  # the first attempt's answer is in
        await http.patch(url, headers=frozen.headers, json={"notificationUrl": new.url})
        await http.post("/_sim/clock/advance", json={"seconds": 2})
        [moved] = await new.wait_for(1)
        assert json.loads(moved.body)["vendor"]["name"] == "Moving"
        await http.patch(url, headers=frozen.headers, json={"notificationUrl": old.url})
        old.statuses = [500]
        await frozen.patch(f"/vendors/{vendor_id}", {"name": "Stopped"})
        await old.wait_for(2)
        await http.post("/_sim/webhooks/flush")
        await http.patch(url, headers=frozen.headers, json={"status": {"enabled": False}})
        await http.post("/_sim/clock/advance", json={"seconds": 2})
        found = (await http.post("/_sim/webhooks/flush")).json()["deliveries"]
    assert [d["status"] for d in found] == ["delivered", "abandoned"]
    assert found[1]["attempts"] == 1


async def test_events_no_record_change_raises_can_be_raised_by_hand(frozen: Demo) -> None:
    http = frozen.http
    async with webhook_receiver() as receiver:
        sub = await subscribe(frozen, receiver.url, ["payment.failed"])
        raised = await http.post(
            "/_sim/webhooks/events", json={"event": "payment.failed", "object": {"id": "stp01", "amount": 5}}
        )
        [received] = await receiver.wait_for(1)
    payload = verified(received, sub["securityKey"])
    assert payload["payment"] == {"id": "stp01", "amount": 5}
    assert [e["id"] for e in raised.json()["events"]] == [payload["metadata"]["eventId"]]
    unknown = await http.post("/_sim/webhooks/events", json={"event": "payment.exploded"})
    assert unknown.status_code == 400


async def test_payment_notifications_carry_the_vendor_and_billing_type(frozen: Demo) -> None:
    payment = (await frozen.get("/payments", max=1)).json()["results"][0]
    async with webhook_receiver() as receiver:
        sub = await subscribe(frozen, receiver.url, ["payment.updated"])
        change = {"action": "change", "family": "payments", "id": payment["id"], "fields": {"status": "PAID"}}
        await frozen.http.post("/_sim/objects", json=change)
        [received] = await receiver.wait_for(1)
    sent = verified(received, sub["securityKey"])["payment"]
    assert sent["vendor"] == {"id": payment["vendorId"], "name": payment["vendorName"]}
    assert sent["billingType"] == "BDC"
    assert sent["status"] == "PAID"
