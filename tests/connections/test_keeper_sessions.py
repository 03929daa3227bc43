"""SessionKeeper against the simulator on simulated time, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from keeper_harness import Harness

from billbridge.bill import SessionAuth
from billbridge.connections import IDLE_TIMEOUT
from billbridge.store import Connection

MINUTE = 60


async def _vendors(harness: Harness, auth: SessionAuth) -> object:
    client = harness.clients.for_integration("bill-sandbox")
    return await client.request("GET", "/v3/vendors", auth=auth, params={"max": 1})


async def test_fresh_session_is_reused_without_login(harness: Harness, conn: Connection) -> None:
    before = await harness.logins()
    first = await harness.keeper.live_session(conn)
    second = await harness.keeper.live_session(conn)
    assert conn.session.session_id is not None
    assert first.auth.session_id.get_secret_value() == conn.session.session_id.get_secret_value()
    assert second.generation == first.generation == conn.session.generation
    assert await harness.logins() == before


async def test_idle_30_minutes_needs_no_login(harness: Harness, conn: Connection) -> None:
    before = await harness.logins()
    await harness.advance(30 * MINUTE)
    live = await harness.keeper.live_session(conn)
    await _vendors(harness, live.auth)
    assert await harness.logins() == before
    assert live.generation == conn.session.generation


async def test_idle_36_minutes_gets_exactly_one_login(harness: Harness, conn: Connection) -> None:
    before = await harness.logins()
    await harness.advance(36 * MINUTE)
    live = await harness.keeper.live_session(conn)
    await _vendors(harness, live.auth)  # the new session works
    again = await harness.keeper.live_session(conn)
    assert await harness.logins() == before + 1
    assert live.generation == again.generation == conn.session.generation + 1
    stored = await harness.repo.get_by_pk(conn.pk)
    assert stored is not None
    assert stored.session.generation == live.generation


async def test_use_keeps_the_session_alive(harness: Harness, conn: Connection) -> None:
    # BILL resets its idle timer on every call, so a session used every 20 minutes never expires.
    before = await harness.logins()
    for _ in range(4):
        await harness.advance(20 * MINUTE)
        live = await harness.keeper.live_session(conn)
        await _vendors(harness, live.auth)
    assert await harness.logins() == before


async def test_200_concurrent_callers_on_an_expired_session_cause_one_login(
    harness: Harness, conn: Connection
) -> None:
    await harness.advance(36 * MINUTE)
    before = await harness.logins()
    answers = await asyncio.gather(
        *(
            harness.proxy.forward(conn, method="GET", path="/v3/vendors", query=[("max", "1")])
            for _ in range(200)
        )
    )
    assert [a.status for a in answers] == [200] * 200
    assert await harness.logins() == before + 1


async def test_two_keepers_on_one_store_share_one_login(harness: Harness, conn: Connection) -> None:
    # Each keeper stands for a process: own cache and locks, same database.
    other = harness.new_keeper()
    await harness.advance(36 * MINUTE)
    before = await harness.logins()
    sessions = await asyncio.gather(
        *(keeper.live_session(conn) for keeper in (harness.keeper, other) for _ in range(50))
    )
    assert len({s.auth.session_id.get_secret_value() for s in sessions}) == 1
    assert await harness.logins() == before + 1
    await other.aclose()


async def test_recent_use_recorded_by_another_process_prevents_a_login(
    harness: Harness, conn: Connection
) -> None:
    other = harness.new_keeper()
    await harness.advance(20 * MINUTE)
    live = await other.live_session(conn)  # records the use (at most once a minute)
    await _vendors(harness, live.auth)
    await other.aclose()
    await harness.advance(20 * MINUTE)  # 40 min after link, 20 after the other keeper's use
    before = await harness.logins()
    mine = await harness.keeper.live_session(conn)
    assert mine.generation == conn.session.generation
    await _vendors(harness, mine.auth)
    assert await harness.logins() == before


async def test_use_is_recorded_at_most_once_a_minute(harness: Harness, conn: Connection) -> None:
    await harness.advance(5 * MINUTE)
    for _ in range(50):
        await harness.keeper.live_session(conn)
    await harness.keeper.aclose()
    stored = await harness.repo.get_by_pk(conn.pk)
    assert stored is not None
    assert stored.session.last_used_at is not None
    first_record = stored.session.last_used_at
    await harness.advance(30)
    for _ in range(50):
        await harness.keeper.live_session(conn)
    await harness.keeper.aclose()
    stored = await harness.repo.get_by_pk(conn.pk)
    assert stored is not None
    assert stored.session.last_used_at == first_record
    await harness.advance(31)
    await harness.keeper.live_session(conn)
    await harness.keeper.aclose()
    stored = await harness.repo.get_by_pk(conn.pk)
    assert stored is not None
    assert stored.session.last_used_at is not None
    assert stored.session.last_used_at > first_record


async def test_invalidate_with_a_stale_generation_makes_no_login(harness: Harness, conn: Connection) -> None:
    old = await harness.keeper.live_session(conn)
    renewed = await harness.keeper.refresh(conn)
    before = await harness.logins()
    again = await harness.keeper.invalidate(conn, old.generation)
    assert again.generation == renewed.generation == old.generation + 1
    assert await harness.logins() == before


async def test_forced_refresh_logs_in_anew(harness: Harness, conn: Connection) -> None:
    before = await harness.logins()
    live = await harness.keeper.refresh(conn, force=True)
    assert live.generation == conn.session.generation + 1
    assert await harness.logins() == before + 1
    await _vendors(harness, live.auth)


async def test_auth_flow_replays_once_after_bdc_1109(harness: Harness, conn: Connection) -> None:
    first = await harness.keeper.live_session(conn)
    (await harness.sim.post("/_sim/sessions/invalidate", json={})).raise_for_status()
    before = await harness.stats()
    client = harness.clients.for_integration("bill-sandbox")
    auth = harness.keeper.auth(conn)
    await client.request("GET", "/v3/vendors", auth=auth, params={"max": 1})
    after = await harness.stats()
    assert after["logins"] == before["logins"] + 1
    # The dead try, the login and the replay.
    assert after["requests"] == before["requests"] + 3
    assert auth.used is not None
    assert auth.used.auth.session_id != first.auth.session_id


async def test_auth_flow_replays_only_once(harness: Harness, conn: Connection) -> None:
    flow = harness.keeper.auth(conn).auth_flow()
    first = await anext(flow)
    before = await harness.logins()
    second = await flow.asend("BDC_1109")
    assert second.session_id != first.session_id
    with pytest.raises(StopAsyncIteration):
        await flow.asend("BDC_1109")
    assert await harness.logins() == before + 1


async def test_auth_flow_without_replay_renews_only(harness: Harness, conn: Connection) -> None:
    flow = harness.keeper.auth(conn, replay=False).auth_flow()
    await anext(flow)
    before = await harness.logins()
    with pytest.raises(StopAsyncIteration):
        await flow.asend("BDC_1109")
    assert await harness.logins() == before + 1


async def test_min_validity_extends_the_session_without_a_login(harness: Harness, conn: Connection) -> None:
    await harness.advance(25 * MINUTE)
    before = await harness.stats()
    live = await harness.keeper.live_session(conn, min_validity=timedelta(minutes=15), mark_used=False)
    after = await harness.stats()
    assert after["logins"] == before["logins"]
    assert after["requests"] > before["requests"]  # one session-info call reset BILL's timer
    assert live.generation == conn.session.generation
    assert live.expires_at >= harness.clock() + IDLE_TIMEOUT - timedelta(seconds=5)
    await harness.advance(30 * MINUTE)  # 55 min after link, 30 after the extension
    await _vendors(harness, live.auth)


async def test_expires_at_follows_the_last_use(harness: Harness, conn: Connection) -> None:
    await harness.advance(10 * MINUTE)
    live = await harness.keeper.live_session(conn)
    assert abs((live.expires_at - (harness.clock() + IDLE_TIMEOUT)).total_seconds()) < 5
    peek = await harness.keeper.live_session(conn, mark_used=False)
    await harness.advance(MINUTE)
    later = await harness.keeper.live_session(conn, mark_used=False)
    assert later.expires_at == peek.expires_at
