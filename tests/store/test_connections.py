"""ConnectionRepository on both databases: link, re-link, read, change, delete."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from store_samples import T0, FakeClock, credentials, link, session_state

from billbridge.errors import DecryptionError, NotFoundError
from billbridge.store import UNSET, ConnectionRepository, Database, Keyring, SessionState
from billbridge.store.models import ConnectionRow

END_USER = {
    "id": "eu-1",
    "display_name": "Ada Lovelace",
    "email": "ada@example.com",
    "tags": {},
    "organization": {"id": "org-7", "display_name": "Analytical"},
}


async def test_link_creates_a_connection_with_everything_readable(connections: ConnectionRepository) -> None:
    conn, created = await connections.upsert_linked(
        connection_id="conn-1",
        provider_config_key="bill-sandbox",
        environment="sandbox",
        credentials=credentials("a", remember_me_id=SecretStr("rm-a"), device="laptop"),
        session=session_state("a"),
        end_user=END_USER,
        tags={"team": "ap"},
        webhook_url_override="https://hooks.example.com/x",
        connection_config={"region": "us"},
    )
    assert created
    assert conn.pk > 0
    assert (conn.connection_id, conn.provider_config_key, conn.environment) == (
        "conn-1",
        "bill-sandbox",
        "sandbox",
    )
    assert conn.status == "ok"
    assert conn.last_error is None
    assert conn.login_failures == 0
    assert conn.credentials.password.get_secret_value() == "pw-a-Kx81!"
    assert conn.credentials.dev_key.get_secret_value() == "devkey-a-01JQ"
    assert conn.credentials.api_token is not None
    assert conn.credentials.api_token.get_secret_value() == "apitoken-a-99"
    assert conn.credentials.remember_me_id == SecretStr("rm-a")
    assert conn.credentials.device == "laptop"
    assert conn.session.session_id == SecretStr("sess-a-7f3e")
    assert conn.session.generation == 1
    assert conn.session.started_at == T0
    assert conn.session.started_at.tzinfo is not None
    assert "sessionId" not in conn.session.raw
    assert conn.session.raw["userId"] == "00601USER"
    assert conn.end_user == END_USER
    assert conn.tags == {"team": "ap"}
    assert conn.metadata == {}
    assert conn.connection_config == {"region": "us"}
    assert conn.webhook_url_override == "https://hooks.example.com/x"
    assert conn.created_at == conn.updated_at == T0
    assert conn.last_fetched_at is None
    assert await connections.get("conn-1", "bill-sandbox") == conn
    assert await connections.get_by_pk(conn.pk) == conn


async def test_unknown_connections_are_none(connections: ConnectionRepository) -> None:
    await link(connections)
    assert await connections.get("conn-1", "bill") is None
    assert await connections.get("nope", "bill-sandbox") is None
    assert await connections.get_by_pk(999_999) is None


async def test_relink_replaces_credentials_resets_health_and_keeps_metadata(
    connections: ConnectionRepository, clock: FakeClock
) -> None:
    first, _ = await link(connections, end_user=END_USER, tags={"a": "1"})
    await connections.set_metadata(first.pk, {"crm": "42"}, merge=False)
    await connections.touch_fetched(first.pk, at=clock.advance(minutes=1))
    async with connections.login_lock(first.pk) as handle:
        await handle.record_failure("BILL unreachable", clock.now.replace(hour=13))
        await handle.mark_invalid("BDC_1101: wrong password")

    relinked_at = clock.advance(minutes=5)
    again, created = await connections.upsert_linked(
        connection_id="conn-1",
        provider_config_key="bill-sandbox",
        environment="sandbox",
        credentials=credentials("b"),
        session=session_state("b", at=relinked_at),
        end_user=None,
        tags={"b": "2"},
        webhook_url_override=None,
        connection_config={"x": 1},
    )
    assert not created
    assert again.pk == first.pk
    assert again.credentials.password.get_secret_value() == "pw-b-Kx81!"
    assert again.session.session_id == SecretStr("sess-b-7f3e")
    assert again.session.generation == first.session.generation + 1
    assert again.status == "ok"
    assert again.last_error is None
    assert again.login_failures == 0
    assert again.cooldown_until is None
    assert again.metadata == {"crm": "42"}
    assert again.end_user is None
    assert again.tags == {"b": "2"}
    assert again.connection_config == {"x": 1}
    assert again.created_at == first.created_at
    assert again.updated_at == relinked_at
    assert again.last_fetched_at == T0.replace(minute=1)


async def test_same_id_on_two_integrations_are_two_connections(connections: ConnectionRepository) -> None:
    a, created_a = await link(connections, provider_config_key="bill-sandbox", tag="a")
    b, created_b = await link(connections, provider_config_key="bill", tag="b")
    assert created_a
    assert created_b
    assert a.pk != b.pk
    fetched = await connections.get("conn-1", "bill")
    assert fetched is not None
    assert fetched.credentials.password.get_secret_value() == "pw-b-Kx81!"


async def test_concurrent_links_of_one_id_create_exactly_one(connections: ConnectionRepository) -> None:
    import asyncio

    results = await asyncio.gather(*(link(connections, tag=str(i)) for i in range(6)))
    assert sum(created for _, created in results) == 1
    assert len({conn.pk for conn, _ in results}) == 1
    assert len(await connections.list()) == 1


async def test_delete(connections: ConnectionRepository) -> None:
    conn, _ = await link(connections)
    assert await connections.delete(conn.pk) is True
    assert await connections.delete(conn.pk) is False
    assert await connections.get_by_pk(conn.pk) is None


async def test_metadata_replace_and_merge(connections: ConnectionRepository, clock: FakeClock) -> None:
    conn, _ = await link(connections)
    replaced = await connections.set_metadata(conn.pk, {"a": 1, "b": {"c": 2}}, merge=False)
    assert replaced.metadata == {"a": 1, "b": {"c": 2}}
    clock.advance(seconds=1)
    merged = await connections.set_metadata(conn.pk, {"b": 3, "d": None}, merge=True)
    assert merged.metadata == {"a": 1, "b": 3, "d": None}
    assert merged.updated_at == clock.now
    assert (await connections.set_metadata(conn.pk, {}, merge=False)).metadata == {}
    with pytest.raises(NotFoundError):
        await connections.set_metadata(123_456, {}, merge=True)


async def test_patch_changes_only_what_is_given(connections: ConnectionRepository) -> None:
    conn, _ = await link(connections, end_user=END_USER, tags={"t": "1"})
    unchanged = await connections.patch(conn.pk)
    assert (unchanged.end_user, unchanged.tags, unchanged.webhook_url_override) == (
        END_USER,
        {"t": "1"},
        None,
    )
    patched = await connections.patch(conn.pk, tags={"t": "2"}, webhook_url_override="https://h.example.com")
    assert patched.tags == {"t": "2"}
    assert patched.end_user == END_USER
    assert patched.webhook_url_override == "https://h.example.com"
    cleared = await connections.patch(conn.pk, end_user=None, webhook_url_override=None, tags=UNSET)
    assert cleared.end_user is None
    assert cleared.webhook_url_override is None
    assert cleared.tags == {"t": "2"}
    # The list filters follow the new end user.
    moved = await connections.patch(conn.pk, end_user={**END_USER, "id": "eu-2", "organization": None})
    assert moved.end_user is not None
    assert moved.end_user["id"] == "eu-2"
    assert [c.pk for c in await connections.list(end_user_id="eu-2")] == [conn.pk]
    assert await connections.list(end_user_organization_id="org-7") == []
    with pytest.raises(NotFoundError):
        await connections.patch(123_456, tags={})


async def test_update_credentials_keeps_status_and_session(connections: ConnectionRepository) -> None:
    conn, _ = await link(connections)
    new = credentials("z", remember_me_id=SecretStr("remember-z"), api_token=None)
    updated = await connections.update_credentials(conn.pk, new)
    assert updated.credentials == new
    assert updated.session == conn.session
    assert updated.status == "ok"
    with pytest.raises(NotFoundError):
        await connections.update_credentials(123_456, new)


async def test_touch_fetched_and_record_session_use(
    connections: ConnectionRepository, clock: FakeClock
) -> None:
    conn, _ = await link(connections)
    later = clock.advance(minutes=3)
    await connections.touch_fetched(conn.pk)
    await connections.record_session_use(conn.pk, later)
    fetched = await connections.get_by_pk(conn.pk)
    assert fetched is not None
    assert fetched.last_fetched_at == later
    assert fetched.session.last_used_at == later
    # Never backwards: a late writer with an older time loses.
    await connections.record_session_use(conn.pk, T0)
    again = await connections.get_by_pk(conn.pk)
    assert again is not None
    assert again.session.last_used_at == later
    assert again.updated_at == conn.updated_at  # bookkeeping, not a change of the connection


async def test_naive_datetimes_are_refused(connections: ConnectionRepository) -> None:
    conn, _ = await link(connections)
    with pytest.raises(ValueError, match="naive"):
        await connections.record_session_use(conn.pk, datetime(2025, 1, 1))


async def test_repr_of_a_connection_shows_no_secret(connections: ConnectionRepository) -> None:
    conn, _ = await link(connections)
    shown = repr(conn) + str(conn) + repr(conn.credentials) + repr(conn.session)
    for secret in ("pw-a-Kx81!", "devkey-a-01JQ", "apitoken-a-99", "sess-a-7f3e"):
        assert secret not in shown
    assert "user-a@example.com" in shown


async def test_a_ciphertext_moved_to_another_row_does_not_open(
    database: Database, connections: ConnectionRepository
) -> None:
    a, _ = await link(connections, "conn-a", tag="a")
    b, _ = await link(connections, "conn-b", tag="b")
    async with database.transaction() as session:
        stolen = (
            await session.execute(select(ConnectionRow.password_enc).where(ConnectionRow.id == a.pk))
        ).scalar()
        await session.execute(
            update(ConnectionRow).where(ConnectionRow.id == b.pk).values(password_enc=stolen)
        )
    with pytest.raises(DecryptionError):
        await connections.get_by_pk(b.pk)


async def test_a_ciphertext_moved_to_another_field_does_not_open(
    database: Database, connections: ConnectionRepository
) -> None:
    a, _ = await link(connections)
    async with database.transaction() as session:
        await session.execute(
            update(ConnectionRow)
            .where(ConnectionRow.id == a.pk)
            .values(dev_key_enc=ConnectionRow.password_enc)
        )
    with pytest.raises(DecryptionError):
        await connections.get_by_pk(a.pk)


async def test_another_keyring_cannot_read(database: Database, connections: ConnectionRepository) -> None:
    from billbridge.store import generate_key

    conn, _ = await link(connections)
    with pytest.raises(DecryptionError):
        await ConnectionRepository(database, Keyring([generate_key("other")])).get_by_pk(conn.pk)


async def test_empty_session_is_stored_as_none(connections: ConnectionRepository) -> None:
    conn, _ = await connections.upsert_linked(
        connection_id="c",
        provider_config_key="bill",
        environment="production",
        credentials=credentials(),
        session=SessionState(),
        end_user=None,
        tags={},
        webhook_url_override=None,
        connection_config={},
    )
    assert conn.session.session_id is None
    assert not conn.session.is_present
    assert conn.environment == "production"
