"""rotate_keys on both databases: everything moves to the newest key, atomically."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from store_samples import FakeClock, credentials, link

from billbridge.errors import DecryptionError
from billbridge.store import (
    ApiKeyRepository,
    ConnectionRepository,
    Database,
    Keyring,
    generate_key,
    rotate_keys,
)
from billbridge.store.models import SECRET_COLUMNS, ApiKeyRow, ConnectionRow


async def _key_ids(database: Database) -> set[str | None]:
    async with database.session() as session:
        rows = (await session.execute(select(ConnectionRow))).scalars().all()
        keys = (await session.execute(select(ApiKeyRow))).scalars().all()
    tokens = [getattr(row, column) for row in rows for column in SECRET_COLUMNS]
    tokens += [row.key_enc for row in keys]
    return {Keyring.key_id_of(token) for token in tokens if token is not None}


async def test_rotation_moves_every_secret_to_the_newest_key(database: Database, clock: FakeClock) -> None:
    old, new = generate_key("old"), generate_key("new")
    before = ConnectionRepository(database, Keyring([old]), clock=clock)
    a, _ = await link(before, "a", tag="a")
    b, _ = await before.upsert_linked(
        connection_id="b",
        provider_config_key="bill",
        environment="production",
        credentials=credentials("b", remember_me_id=SecretStr("rm-b"), api_token=None),
        session=a.session,
        end_user=None,
        tags={},
        webhook_url_override=None,
        connection_config={},
    )
    secret_key = await ApiKeyRepository(database, Keyring([old])).ensure_secret_key(None)
    assert await _key_ids(database) == {"old"}

    result = await rotate_keys(database, Keyring([new, old]))
    assert (result.key_id, result.connections, result.api_keys) == ("new", 2, 1)
    assert (
        result.fields == 4 + 4
    )  # a: password, dev key, token, session; b: password, dev key, remember-me, session
    assert await _key_ids(database) == {"new"}

    only_new = ConnectionRepository(database, Keyring([new]))
    assert await only_new.get_by_pk(a.pk) == a
    assert await only_new.get_by_pk(b.pk) == b
    assert await ApiKeyRepository(database, Keyring([new])).secret_key() == SecretStr(str(secret_key))
    with pytest.raises(DecryptionError):
        await ConnectionRepository(database, Keyring([old])).get_by_pk(a.pk)


async def test_rotation_is_all_or_nothing(database: Database) -> None:
    old, new = generate_key("old"), generate_key("new")
    repo = ConnectionRepository(database, Keyring([old]))
    await link(repo, "a", tag="a")
    broken, _ = await link(repo, "b", tag="b")
    async with database.transaction() as session:
        swapped = update(ConnectionRow).where(ConnectionRow.id == broken.pk)
        await session.execute(swapped.values(dev_key_enc=ConnectionRow.password_enc))
    with pytest.raises(DecryptionError):
        await rotate_keys(database, Keyring([new, old]))
    assert await _key_ids(database) == {"old"}


async def test_rotating_twice_is_harmless(database: Database, keyring: Keyring) -> None:
    repo = ConnectionRepository(database, keyring)
    conn, _ = await link(repo)
    await rotate_keys(database, keyring)
    result = await rotate_keys(database, keyring)
    assert result.connections == 1
    assert await repo.get_by_pk(conn.pk) == conn
