"""login_lock: single-flight re-login, within one engine and across two (as two processes would)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from store_samples import FakeClock, link, session_state

from billbridge.errors import CredentialsRejectedError, NotFoundError
from billbridge.store import ConnectionRepository, Database, Keyring, SessionState, create_database


@pytest.fixture
async def second_database(database_url: str) -> AsyncIterator[Database]:
    """Another engine on the same database: its own connections, like another process."""
    db = await create_database(database_url, run_migrations=False)
    yield db
    await db.close()


async def test_save_session_bumps_generation_and_clears_failures(
    connections: ConnectionRepository, clock: FakeClock
) -> None:
    conn, _ = await link(connections)
    async with connections.login_lock(conn.pk) as handle:
        await handle.record_failure("BILL did not answer", clock.now + timedelta(seconds=30))
    async with connections.login_lock(conn.pk) as handle:
        assert handle.connection.login_failures == 1
        assert handle.connection.cooldown_until == clock.now + timedelta(seconds=30)
        assert handle.connection.last_error == "BILL did not answer"
        saved = await handle.save_session(
            SessionState(
                session_id=SecretStr("sess-new"),
                user_id="u",
                trusted=True,
                started_at=clock.now,
                generation=99,
            )
        )
        assert handle.connection == saved
    assert saved.session.generation == conn.session.generation + 1
    assert saved.session.session_id == SecretStr("sess-new")
    assert saved.session.trusted
    assert (saved.login_failures, saved.cooldown_until, saved.last_error) == (0, None, None)
    assert await connections.get_by_pk(conn.pk) == saved


async def test_mark_invalid_survives_the_exception_that_follows(connections: ConnectionRepository) -> None:
    conn, _ = await link(connections)

    async def relogin_refused() -> None:
        async with connections.login_lock(conn.pk) as handle:
            await handle.mark_invalid("The password was not accepted by BILL.")
            raise CredentialsRejectedError("re-link needed")

    with pytest.raises(CredentialsRejectedError):
        await relogin_refused()
    stored = await connections.get_by_pk(conn.pk)
    assert stored is not None
    assert stored.status == "invalid_credentials"
    assert stored.last_error == "The password was not accepted by BILL."
    assert stored.session.session_id is None
    assert stored.session.generation == conn.session.generation


async def test_an_exception_without_writes_changes_nothing(connections: ConnectionRepository) -> None:
    conn, _ = await link(connections)
    with pytest.raises(RuntimeError):
        async with connections.login_lock(conn.pk):
            raise RuntimeError("login crashed")
    assert await connections.get_by_pk(conn.pk) == conn
    # The lock was released: it can be taken again at once.
    async with connections.login_lock(conn.pk) as handle:
        assert handle.connection == conn


async def test_a_saved_session_survives_cancellation_and_the_lock_is_freed(
    connections: ConnectionRepository,
) -> None:
    # Each write commits at once (no transaction spans the BILL login), so a session BILL gave
    # is kept even if the caller goes away right after.
    conn, _ = await link(connections)
    saved = asyncio.Event()

    async def relogin() -> None:
        async with connections.login_lock(conn.pk) as handle:
            await handle.save_session(session_state("new"))
            saved.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(relogin())
    await saved.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stored = await connections.get_by_pk(conn.pk)
    assert stored is not None
    assert stored.session.generation == conn.session.generation + 1
    async with asyncio.timeout(5), connections.login_lock(conn.pk) as handle:
        assert handle.connection == stored


async def test_other_writes_go_on_while_the_lock_is_held(connections: ConnectionRepository) -> None:
    # The lock is no write transaction: a login may take 45 s without stalling the database.
    conn, _ = await link(connections)
    other, _ = await link(connections, "conn-2", tag="b")
    async with connections.login_lock(conn.pk):
        async with asyncio.timeout(5):
            await connections.patch(other.pk, tags={"team": "ap"})
            await connections.patch(conn.pk, tags={"team": "ar"})
            await link(connections, "conn-3", tag="c")
    stored = await connections.get_by_pk(other.pk)
    assert stored is not None
    assert stored.tags == {"team": "ap"}


async def test_a_relink_during_the_lock_wins_over_the_login(connections: ConnectionRepository) -> None:
    conn, _ = await link(connections)
    async with connections.login_lock(conn.pk) as handle:
        relinked, _ = await link(connections, tag="z")  # the user re-links while BILL is slow
        result = await handle.save_session(session_state("late"))
        assert handle.superseded
        failure = await handle.mark_invalid("refused")
    assert result == failure == relinked
    assert await connections.get_by_pk(conn.pk) == relinked


async def test_unknown_connection(connections: ConnectionRepository) -> None:
    with pytest.raises(NotFoundError):
        async with connections.login_lock(424_242):
            pass


async def _wait_until_blocked(database: Database) -> None:
    """Until another backend waits on a lock (PostgreSQL), or a grace period (SQLite shows nothing)."""
    if not database.is_postgres:
        await asyncio.sleep(0.3)
        return
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(300):
        async with database.session() as session:
            if (await session.execute(query)).scalar():
                return
        await asyncio.sleep(0.05)
    pytest.fail("the second locker never waited for the lock")


async def test_second_locker_waits_and_sees_the_first_ones_session(
    database: Database, second_database: Database, keyring: Keyring, clock: FakeClock
) -> None:
    repo1 = ConnectionRepository(database, keyring, clock=clock)
    repo2 = ConnectionRepository(second_database, keyring, clock=clock)
    conn, _ = await link(repo1)
    first_in, release = asyncio.Event(), asyncio.Event()
    events: list[str] = []

    async def first() -> None:
        async with repo1.login_lock(conn.pk) as handle:
            events.append("first in")
            first_in.set()
            await release.wait()
            await handle.save_session(session_state("fresh"))
            events.append("first saved")

    async def second() -> SessionState:
        await first_in.wait()
        async with repo2.login_lock(conn.pk) as handle:
            events.append("second in")
            return handle.connection.session

    first_task, second_task = asyncio.create_task(first()), asyncio.create_task(second())
    await first_in.wait()
    await _wait_until_blocked(database)
    assert events == ["first in"]
    release.set()
    seen = await second_task
    await first_task
    assert events == ["first in", "first saved", "second in"]
    # The re-check after winning the lock finds the new session: no second login needed.
    assert seen.generation == conn.session.generation + 1
    assert seen.session_id == SecretStr("sess-fresh-7f3e")


async def test_many_lockers_on_two_engines_never_lose_an_update(
    database: Database, second_database: Database, keyring: Keyring, clock: FakeClock
) -> None:
    repos = [ConnectionRepository(db, keyring, clock=clock) for db in (database, second_database)]
    conn, _ = await link(repos[0])
    seen: list[int] = []

    async def relogin(repo: ConnectionRepository) -> None:
        async with repo.login_lock(conn.pk) as handle:
            generation = handle.connection.session.generation
            await asyncio.sleep(0.01)  # widen the window a broken lock would let others into
            saved = await handle.save_session(session_state())
            assert saved.session.generation == generation + 1
            seen.append(generation)

    await asyncio.gather(*(relogin(repos[i % 2]) for i in range(12)))
    start = conn.session.generation
    assert sorted(seen) == list(range(start, start + 12))
    final = await repos[1].get_by_pk(conn.pk)
    assert final is not None
    assert final.session.generation == start + 12
