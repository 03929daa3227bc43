"""Expired connect sessions are purged on a schedule while the server runs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from web_harness import Api

from billbridge.connections.housekeeping import purge_expired_sessions, repeat
from billbridge.store import ConnectSessionRepository
from billbridge.store.models import ConnectSessionRow

EVERY = 0.05


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"connect_session_purge_seconds": EVERY}


async def _create(sessions: ConnectSessionRepository, ttl: timedelta) -> str:
    token, _ = await sessions.create(
        end_user={"id": "eu-1", "email": "ada@example.com", "display_name": "Ada"},
        organization=None,
        allowed_integrations=None,
        integrations_config_defaults={},
        tags={},
        webhook_url_override=None,
        reconnect=None,
        ttl=ttl,
    )
    return token


async def _rows(api: Api) -> int:
    async with api.runtime.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(ConnectSessionRow))).scalar_one())


async def test_the_server_purges_expired_sessions_on_its_own(api: Api) -> None:
    sessions = api.runtime.connect_sessions
    live = await _create(sessions, timedelta(minutes=30))
    for _ in range(3):
        await _create(sessions, timedelta(seconds=-1))

    async with asyncio.timeout(10):
        while await _rows(api) > 1:
            await asyncio.sleep(EVERY)

    assert await sessions.get_by_token(live) is not None
    assert not api.app.state.session_purge.done()


async def test_purge_deletes_only_expired_sessions(api: Api) -> None:
    sessions = api.runtime.connect_sessions
    api.app.state.session_purge.cancel()  # this test purges by hand
    await _create(sessions, timedelta(minutes=30))
    await _create(sessions, timedelta(seconds=-1))

    assert await purge_expired_sessions(sessions) == 1
    assert await purge_expired_sessions(sessions) == 0
    assert await _rows(api) == 1


async def test_a_failing_round_does_not_stop_the_schedule() -> None:
    rounds = 0

    async def job() -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 1:
            raise RuntimeError("database away")

    task = asyncio.create_task(repeat(job, every=0.01, name="probe"))
    try:
        async with asyncio.timeout(5):
            while rounds < 3:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert rounds >= 3
