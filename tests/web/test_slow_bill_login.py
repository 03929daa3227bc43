"""On SQLite, a BILL login that hangs holds no database lock: other connections' writes go on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from web_harness import Api

Form = Callable[..., dict[str, str]]
KEY = {"provider_config_key": "bill-sandbox"}
HANG_SECONDS = 5


async def _wait_for_hanging_request(api: Api) -> None:
    # The login holds one of the organization's in-flight slots while BILL keeps it waiting.
    async with asyncio.timeout(10):
        while not api.runtime.clients.limits.in_flight_counts():
            await asyncio.sleep(0.02)


async def test_writes_go_on_while_a_forced_refresh_waits_for_bill(api: Api, demo_form: Form) -> None:
    slow = await api.linked(demo_form())
    other = await api.linked(demo_form())
    # From now on BILL hangs: the forced refresh's login waits HANG_SECONDS for an answer.
    faults = {"timeout_rate": 1.0, "timeout_seconds": HANG_SECONDS}
    (await api.sim.post("/_sim/faults", json=faults)).raise_for_status()
    refresh = asyncio.create_task(
        api.client.get(f"/connections/{slow}", params={**KEY, "force_refresh": "true"})
    )
    await _wait_for_hanging_request(api)

    session = await api.client.post("/connect/sessions", json={"end_user": {"id": "someone-else"}})
    patched = await api.client.patch(f"/connections/{other}", params=KEY, json={"tags": {"team": "ap"}})
    own = await api.client.patch(f"/connections/{slow}", params=KEY, json={"tags": {"team": "ar"}})

    # Answered while the login still hangs: none of them waited for BILL.
    assert not refresh.done()
    assert session.status_code == 201, session.text
    assert patched.status_code == 200, patched.text
    assert own.status_code == 200, own.text
    (await api.sim.post("/_sim/faults", json={"timeout_rate": 0.0})).raise_for_status()
    refreshed = await refresh  # the hanging try ends (504) and the retry logs in
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["tags"] == {"team": "ar"}
