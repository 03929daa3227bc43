"""Connect Events subscriptions: UUID4 idempotency key, HTTPS, at most 10, no duplicates, catalog, keys."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from billbridge.simulator import SimConfig

from .support import FROZEN_START, Demo, client_for, error_code, sign_in

BODY = {
    "name": "sync",
    "status": {"enabled": True},
    "events": [{"type": "vendor.created", "version": "1"}, {"type": "bill.updated", "version": "1"}],
    "notificationUrl": "https://hooks.example.com/bill",
}
SUBSCRIPTIONS = "/connect-events/v3/subscriptions"


async def create(demo: Demo, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {**demo.headers, "X-Idempotent-Key": key or str(uuid.uuid4())}
    return await demo.http.post(SUBSCRIPTIONS, headers=headers, json=body)


def at(url: str) -> dict[str, Any]:
    return {**BODY, "notificationUrl": url}


async def test_catalog(demo: Demo) -> None:
    catalog = (await demo.http.get("/connect-events/v3/events/catalog", headers=demo.headers)).json()
    assert {"type": "vendor.created", "version": "1"} in catalog
    # Spend & Expense events are subscribed to with an apiToken, not a session.
    assert not [e for e in catalog if e["type"].startswith("spend.")]


async def test_subscription_lifecycle(demo: Demo) -> None:
    key = str(uuid.uuid4())
    created = (await create(demo, BODY, key)).json()
    assert created["securityKey"]
    assert created["organizationId"] == demo.org_id
    assert (await create(demo, BODY, key)).json() == created  # same key, same answer
    base = f"{SUBSCRIPTIONS}/{created['id']}"
    listed = (await demo.http.get(SUBSCRIPTIONS, headers=demo.headers)).json()
    assert [s["id"] for s in listed] == [created["id"]]
    assert "securityKey" not in listed[0]
    assert "securityKey" not in (await demo.http.get(base, headers=demo.headers)).json()
    patched = (await demo.http.patch(base, headers=demo.headers, json={"status": {"enabled": False}})).json()
    assert patched["status"] == {"enabled": False}
    rotated = await demo.http.post(f"{base}/security_key", headers={**demo.headers, "X-Idempotent-Key": key})
    assert rotated.json()["securityKey"] != created["securityKey"]
    assert (await demo.http.delete(base, headers=demo.headers)).status_code == 200
    assert error_code(await demo.http.get(base, headers=demo.headers)) == "BDC_1120"


@pytest.mark.parametrize("spelling", ["security_key", "security-key"])
async def test_both_spellings_of_the_security_key_path(demo: Demo, spelling: str) -> None:
    created = (await create(demo, BODY)).json()
    url = f"{SUBSCRIPTIONS}/{created['id']}/{spelling}"
    key = str(uuid.uuid4())
    first = await demo.http.post(url, headers={**demo.headers, "X-Idempotent-Key": key})
    again = await demo.http.post(url, headers={**demo.headers, "X-Idempotent-Key": key})
    other = await demo.http.post(url, headers={**demo.headers, "X-Idempotent-Key": str(uuid.uuid4())})
    assert first.status_code == 200
    assert first.json() == again.json()  # the same key replays the same new key
    assert other.json()["securityKey"] not in (first.json()["securityKey"], created["securityKey"])


async def test_no_duplicate_subscriptions(demo: Demo) -> None:
    assert (await create(demo, BODY)).status_code == 200
    duplicate = await create(demo, {**BODY, "name": "other name", "events": list(reversed(BODY["events"]))})
    assert duplicate.status_code == 400
    assert error_code(duplicate) == "BDC_1129"
    assert "already" in duplicate.json()[0]["message"]
    # Another URL, or another set of events, is a different subscription.
    assert (await create(demo, at("https://hooks.example.com/other"))).status_code == 200
    fewer = {**BODY, "events": BODY["events"][:1]}
    second = await create(demo, fewer)
    assert second.status_code == 200
    # Nor can an update turn one subscription into a copy of another.
    moved = await demo.http.patch(
        f"{SUBSCRIPTIONS}/{second.json()['id']}", headers=demo.headers, json={"events": BODY["events"]}
    )
    assert error_code(moved) == "BDC_1129"


async def test_at_most_ten_per_organization(demo: Demo) -> None:
    for n in range(10):
        assert (await create(demo, at(f"https://hooks.example.com/{n}"))).status_code == 200
    eleventh = await create(demo, at("https://hooks.example.com/10"))
    assert (eleventh.status_code, error_code(eleventh)) == (400, "BDC_1129")


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://hooks.example.com/bill", True),
        ("http://127.0.0.1:9/x", True),
        ("http://127.8.9.10/x", True),
        ("http://localhost:8080/x", True),
        ("http://[::1]:8080/x", True),
        ("http://hooks.example.com/x", False),
        ("http://10.0.0.1/x", False),
        ("http://128.0.0.1/x", False),
        ("http://localhost.example.com/x", False),
        ("ftp://127.0.0.1/x", False),
        ("https:///nohost", False),
        ("not a url", False),
    ],
)
async def test_https_only_except_loopback(demo: Demo, url: str, accepted: bool) -> None:
    response = await create(demo, at(url))
    if accepted:
        assert response.status_code == 200, response.text
    else:
        assert (response.status_code, error_code(response)) == (400, "BDC_1129")
        assert "loopback" in response.json()[0]["message"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"name": None}, "BDC_1108"),
        ({"status": None}, "BDC_1108"),
        ({"events": []}, "BDC_1108"),
        ({"notificationUrl": None}, "BDC_1108"),
        ({"events": [{"type": "vendor.exploded", "version": "1"}]}, "BDC_1129"),
        ({"events": [{"type": "vendor.created", "version": "2"}]}, "BDC_1129"),
        ({"events": [{"type": "spend.transaction.updated", "version": "1"}]}, "BDC_1129"),
        ({"status": "on"}, "BDC_1129"),
        ({"name": 5}, "BDC_1129"),
    ],
)
async def test_create_checks_the_body(demo: Demo, change: dict[str, Any], code: str) -> None:
    body = {k: v for k, v in {**BODY, **change}.items() if v is not None}
    response = await create(demo, body)
    assert (response.status_code, error_code(response)) == (400, code)


async def test_subscription_rules(demo: Demo) -> None:
    no_key = await demo.http.post(SUBSCRIPTIONS, headers=demo.headers, json=BODY)
    assert error_code(no_key) == "BDC_1129"
    not_v4 = await create(demo, BODY, str(uuid.uuid1()))
    assert error_code(not_v4) == "BDC_1129"


async def test_put_needs_every_field(demo: Demo) -> None:
    created = (await create(demo, BODY)).json()
    url = f"{SUBSCRIPTIONS}/{created['id']}"
    partial = await demo.http.put(url, headers=demo.headers, json={"name": "x"})
    assert error_code(partial) == "BDC_1108"
    replaced = await demo.http.put(url, headers=demo.headers, json={**BODY, "name": "renamed"})
    assert replaced.json()["name"] == "renamed"


async def test_idempotent_answers_last_a_day() -> None:
    async with client_for(SimConfig(records=5, organizations=1, clock_start=FROZEN_START)) as http:
        world = (await http.get("/_sim/world")).json()
        key = str(uuid.uuid4())
        first = (await create(await sign_in(http, world), BODY, key)).json()
        await http.post("/_sim/clock/advance", json={"seconds": 23 * 3600})
        assert (await create(await sign_in(http, world), BODY, key)).json() == first
        await http.post("/_sim/clock/advance", json={"seconds": 3600})
        # A day later the key is new again: the same body is now a duplicate.
        assert error_code(await create(await sign_in(http, world), BODY, key)) == "BDC_1129"


async def test_a_key_still_in_progress_is_refused_with_429(demo: Demo) -> None:
    await demo.http.post("/_sim/faults", json={"latency_ms": 300})
    key = str(uuid.uuid4())
    first, second = await asyncio.gather(create(demo, BODY, key), create(demo, BODY, key))
    assert sorted([first.status_code, second.status_code]) == [200, 429]


async def test_events_need_a_session(demo: Demo) -> None:
    response = await demo.http.get(SUBSCRIPTIONS, headers={"devKey": demo.dev_key})
    assert error_code(response) == "BDC_1109"
