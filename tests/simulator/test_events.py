"""Connect Events: subscriptions (UUID4 idempotency key, HTTPS, at most 10), catalog, key rotation."""

from __future__ import annotations

import uuid
from typing import Any

from .support import Demo, error_code

BODY = {
    "name": "sync",
    "status": {"enabled": True},
    "events": [{"type": "vendor.created", "version": "1"}, {"type": "bill.updated", "version": "1"}],
    "notificationUrl": "https://hooks.example.com/bill",
}


async def create(demo: Demo, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {**demo.headers, "X-Idempotent-Key": key or str(uuid.uuid4())}
    return await demo.http.post("/connect-events/v3/subscriptions", headers=headers, json=body)


async def test_catalog(demo: Demo) -> None:
    catalog = (await demo.http.get("/connect-events/v3/events/catalog", headers=demo.headers)).json()
    assert {"type": "vendor.created", "version": "1"} in catalog


async def test_subscription_lifecycle(demo: Demo) -> None:
    key = str(uuid.uuid4())
    created = (await create(demo, BODY, key)).json()
    assert created["securityKey"]
    assert created["organizationId"] == demo.org_id
    assert (await create(demo, BODY, key)).json() == created  # same key, same answer
    base = f"/connect-events/v3/subscriptions/{created['id']}"
    listed = (await demo.http.get("/connect-events/v3/subscriptions", headers=demo.headers)).json()
    assert [s["id"] for s in listed] == [created["id"]]
    assert "securityKey" not in listed[0]
    patched = (await demo.http.patch(base, headers=demo.headers, json={"status": {"enabled": False}})).json()
    assert patched["status"] == {"enabled": False}
    rotated = await demo.http.post(f"{base}/security_key", headers={**demo.headers, "X-Idempotent-Key": key})
    assert rotated.json()["securityKey"] != created["securityKey"]
    assert (await demo.http.post(f"{base}/test", headers=demo.headers)).status_code == 200
    assert (await demo.http.delete(base, headers=demo.headers)).status_code == 200
    assert error_code(await demo.http.get(base, headers=demo.headers)) == "BDC_1120"


async def test_subscription_rules(demo: Demo) -> None:
    no_key = await demo.http.post("/connect-events/v3/subscriptions", headers=demo.headers, json=BODY)
    assert error_code(no_key) == "BDC_1129"
    not_v4 = await create(demo, BODY, str(uuid.uuid1()))
    assert error_code(not_v4) == "BDC_1129"
    plain_http = await create(demo, {**BODY, "notificationUrl": "http://hooks.example.com/x"})
    assert error_code(plain_http) == "BDC_1129"
    loopback = await create(demo, {**BODY, "notificationUrl": "http://127.0.0.1:9/x"})
    assert loopback.status_code == 200
    unknown = await create(demo, {**BODY, "events": [{"type": "vendor.exploded", "version": "1"}]})
    assert error_code(unknown) == "BDC_1129"
    for _ in range(9):
        assert (await create(demo, BODY)).status_code == 200
    assert error_code(await create(demo, BODY)) == "BDC_1129"


async def test_events_need_a_session(demo: Demo) -> None:
    response = await demo.http.get("/connect-events/v3/subscriptions", headers={"devKey": demo.dev_key})
    assert error_code(response) == "BDC_1109"
