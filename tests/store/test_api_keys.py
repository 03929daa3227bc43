"""ApiKeyRepository on both databases: generated once, preset, hashed, verified."""

from __future__ import annotations

import asyncio
import hashlib

from pydantic import SecretStr
from sqlalchemy import select

from billbridge.store import ApiKeyRepository, Database, Keyring
from billbridge.store.models import ApiKeyRow


async def _rows(database: Database) -> list[ApiKeyRow]:
    async with database.session() as session:
        return list((await session.execute(select(ApiKeyRow))).scalars())


async def test_first_start_generates_a_key_once_and_stores_only_its_hash(database: Database) -> None:
    repo = ApiKeyRepository(database)
    key = await repo.ensure_secret_key(None)
    assert key is not None
    assert len(key) >= 32
    assert await repo.ensure_secret_key(None) is None
    assert await ApiKeyRepository(database).ensure_secret_key(None) is None
    rows = await _rows(database)
    assert [(r.kind, r.key_hash, r.key_enc) for r in rows] == [
        ("secret", hashlib.sha256(key.encode()).hexdigest(), None)
    ]
    assert await repo.verify(key)
    assert not await repo.verify(key + "x")
    assert not await repo.verify("")
    assert await repo.secret_key() is None


async def test_concurrent_first_starts_generate_one_key(database: Database) -> None:
    results = await asyncio.gather(*(ApiKeyRepository(database).ensure_secret_key(None) for _ in range(5)))
    printed = [r for r in results if r is not None]
    assert len(printed) == 1
    assert await ApiKeyRepository(database).verify(printed[0])


async def test_preset_key_replaces_the_stored_one(database: Database) -> None:
    repo = ApiKeyRepository(database, cache_seconds=0)
    generated = await repo.ensure_secret_key(None)
    assert generated is not None
    assert await repo.ensure_secret_key(SecretStr("preset-key-0123456789")) is None
    assert await repo.verify("preset-key-0123456789")
    assert not await repo.verify(generated)
    # Restarting with the same preset changes nothing; without it, the preset stays.
    assert await repo.ensure_secret_key(SecretStr("preset-key-0123456789")) is None
    assert await repo.ensure_secret_key(None) is None
    assert await repo.verify("preset-key-0123456789")
    assert len(await _rows(database)) == 1


async def test_with_a_keyring_the_key_can_be_recovered_for_signing(
    database: Database, keyring: Keyring
) -> None:
    repo = ApiKeyRepository(database, keyring)
    key = await repo.ensure_secret_key(None)
    assert key is not None
    recovered = await ApiKeyRepository(database, keyring).secret_key()
    assert recovered == SecretStr(key)
    [row] = await _rows(database)
    assert row.key_enc is not None
    assert key not in row.key_enc
    await repo.ensure_secret_key(SecretStr("preset-key-abc"))
    assert await repo.secret_key() == SecretStr("preset-key-abc")


async def test_verification_is_cached_then_rechecked(database: Database) -> None:
    repo = ApiKeyRepository(database, cache_seconds=3600)
    key = await repo.ensure_secret_key(None)
    assert key is not None
    assert await repo.verify(key)
    async with database.transaction() as session:
        (await session.execute(select(ApiKeyRow))).scalar_one().key_hash = "0" * 64
    assert await repo.verify(key)  # cached
    assert not await ApiKeyRepository(database).verify(key)  # a fresh process asks the database
