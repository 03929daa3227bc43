"""ConnectSessionRepository on both databases: tokens, expiry, attempts, linked connections."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from store_samples import FakeClock, link

from billbridge.errors import NotFoundError
from billbridge.store import (
    ConnectionRepository,
    ConnectSession,
    ConnectSessionRepository,
    Database,
    create_database,
    migrate,
)
from billbridge.store.models import ConnectSessionLinkRow, ConnectSessionRow


@pytest.fixture
def sessions(database: Database, clock: FakeClock) -> ConnectSessionRepository:
    return ConnectSessionRepository(database, clock=clock)


async def _create(repo: ConnectSessionRepository, **changes: object) -> tuple[str, ConnectSession]:
    values: dict[str, object] = {
        "end_user": {"id": "eu-1", "email": "ada@example.com", "display_name": "Ada"},
        "organization": {"id": "org-1", "display_name": "Org"},
        "allowed_integrations": ["bill-sandbox"],
        "integrations_config_defaults": {"bill-sandbox": {"connection_config": {"a": 1}}},
        "tags": {"plan": "pro"},
        "webhook_url_override": "https://hooks.example.com/x",
        "reconnect": None,
    }
    values.update(changes)
    return await repo.create(**values)  # type: ignore[arg-type]


async def test_create_and_find_by_token(
    database: Database, sessions: ConnectSessionRepository, clock: FakeClock
) -> None:
    token, created = await _create(sessions, reconnect=("conn-1", "bill-sandbox"), mfa_required=True)
    assert re.fullmatch(r"nango_connect_session_[0-9a-f]{64}", token)
    found = await sessions.get_by_token(token)
    assert found == created
    assert found is not None
    assert found.end_user == {"id": "eu-1", "email": "ada@example.com", "display_name": "Ada"}
    assert found.organization == {"id": "org-1", "display_name": "Org"}
    assert found.allowed_integrations == ["bill-sandbox"]
    assert found.integrations_config_defaults == {"bill-sandbox": {"connection_config": {"a": 1}}}
    assert found.tags == {"plan": "pro"}
    assert found.webhook_url_override == "https://hooks.example.com/x"
    assert found.reconnect == ("conn-1", "bill-sandbox")
    assert found.mfa_required is True
    assert found.attempts == 0
    assert found.created_at == clock.now
    assert found.expires_at == clock.now + timedelta(minutes=30)
    # Only the hash is stored.
    async with database.session() as session:
        stored = (await session.execute(select(ConnectSessionRow.token_hash))).scalars().all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]


async def test_optional_fields_may_be_empty(sessions: ConnectSessionRepository) -> None:
    token, created = await _create(
        sessions,
        end_user=None,
        organization=None,
        allowed_integrations=None,
        integrations_config_defaults={},
        tags={"only": "tags"},
        webhook_url_override=None,
    )
    assert created.end_user is None
    assert created.allowed_integrations is None
    assert created.reconnect is None
    assert await sessions.get_by_token(token) == created


async def test_tokens_are_unique(sessions: ConnectSessionRepository) -> None:
    tokens = {(await _create(sessions))[0] for _ in range(5)}
    assert len(tokens) == 5


async def test_expired_unknown_and_malformed_tokens_are_none(
    sessions: ConnectSessionRepository, clock: FakeClock
) -> None:
    token, _ = await _create(sessions, ttl=timedelta(minutes=30))
    clock.advance(minutes=29, seconds=59)
    assert await sessions.get_by_token(token) is not None
    clock.advance(seconds=1)
    assert await sessions.get_by_token(token) is None
    assert await sessions.get_by_token("nango_connect_session_" + "0" * 64) is None
    assert await sessions.get_by_token(token.upper()) is None
    assert await sessions.get_by_token("") is None


async def test_register_attempt_counts_atomically(sessions: ConnectSessionRepository) -> None:
    token, _ = await _create(sessions)
    counts = await asyncio.gather(*(sessions.register_attempt(token) for _ in range(10)))
    assert sorted(counts) == list(range(1, 11))
    found = await sessions.get_by_token(token)
    assert found is not None
    assert found.attempts == 10


async def test_register_attempt_on_expired_or_unknown_token(
    sessions: ConnectSessionRepository, clock: FakeClock
) -> None:
    token, _ = await _create(sessions)
    clock.advance(minutes=31)
    with pytest.raises(NotFoundError) as caught:
        await sessions.register_attempt(token)
    assert caught.value.code == "unknown_connect_session_token"
    with pytest.raises(NotFoundError):
        await sessions.register_attempt("nango_connect_session_" + "1" * 64)


async def test_delete_and_purge(sessions: ConnectSessionRepository, clock: FakeClock) -> None:
    kept, _ = await _create(sessions, ttl=timedelta(hours=1))
    gone, _ = await _create(sessions)
    old, _ = await _create(sessions, ttl=timedelta(minutes=1))
    assert await sessions.delete(gone) is True
    assert await sessions.delete(gone) is False
    assert await sessions.get_by_token(gone) is None
    clock.advance(minutes=2)
    assert await sessions.purge_expired() == 1
    assert await sessions.get_by_token(kept) is not None
    assert await sessions.get_by_token(old) is None


async def _link_rows(database: Database) -> int:
    async with database.session() as session:
        return int(
            (await session.execute(select(func.count()).select_from(ConnectSessionLinkRow))).scalar_one()
        )


async def test_a_session_remembers_exactly_the_connections_it_linked(
    sessions: ConnectSessionRepository, connections: ConnectionRepository
) -> None:
    token, created = await _create(sessions)
    other_token, _ = await _create(sessions)
    first, _ = await link(connections, "conn-1")
    second, _ = await link(connections, "conn-2")
    assert created.linked_connections == frozenset()

    await sessions.record_link(created.pk, first.pk)
    await sessions.record_link(created.pk, first.pk)  # a re-link with the same token
    await sessions.record_link(created.pk, second.pk)

    found = await sessions.get_by_token(token)
    assert found is not None
    assert found.linked_connections == {first.pk, second.pk}
    other = await sessions.get_by_token(other_token)
    assert other is not None
    assert other.linked_connections == frozenset()


async def test_links_go_with_the_connection_or_the_session(
    database: Database, sessions: ConnectSessionRepository, connections: ConnectionRepository
) -> None:
    token, created = await _create(sessions)
    gone_token, gone_session = await _create(sessions)
    kept, _ = await link(connections, "conn-1")
    deleted, _ = await link(connections, "conn-2")
    for pk in (kept.pk, deleted.pk):
        await sessions.record_link(created.pk, pk)
    await sessions.record_link(gone_session.pk, kept.pk)
    assert await _link_rows(database) == 3

    assert await connections.delete(deleted.pk)
    found = await sessions.get_by_token(token)
    assert found is not None
    assert found.linked_connections == {kept.pk}
    assert await sessions.delete(gone_token)
    assert await _link_rows(database) == 1


async def test_recording_a_link_to_something_deleted_fails(
    sessions: ConnectSessionRepository, connections: ConnectionRepository
) -> None:
    token, created = await _create(sessions)
    conn, _ = await link(connections)
    with pytest.raises(NotFoundError):
        await sessions.record_link(created.pk, conn.pk + 1000)
    await sessions.delete(token)
    with pytest.raises(NotFoundError):
        await sessions.record_link(created.pk, conn.pk)


async def test_sessions_created_before_the_links_table_still_work(
    empty_database_url: str, clock: FakeClock
) -> None:
    await migrate(empty_database_url, revision="0001")
    db = await create_database(empty_database_url, run_migrations=False)
    try:
        token, _ = await _create(ConnectSessionRepository(db, clock=clock))
        await migrate(empty_database_url)
        found = await ConnectSessionRepository(db, clock=clock).get_by_token(token)
        assert found is not None
        assert found.linked_connections == frozenset()
    finally:
        await db.close()
