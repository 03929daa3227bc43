"""A lost key is never replaced: the keyring opens only if it reads every stored secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from billbridge.settings import get_settings
from billbridge.store import ApiKeyRepository, Database, Keyring, MissingKeyError, generate_key, open_keyring
from billbridge.store.keyfile import key_file_path, write_key_file


async def _store_a_secret(database: Database, keyring: Keyring) -> None:
    await ApiKeyRepository(database, keyring).ensure_secret_key(None)


async def test_a_lost_key_file_is_not_recreated(database: Database, tmp_path: Path) -> None:
    lost = generate_key("klost001")
    await _store_a_secret(database, Keyring([lost]))
    settings = get_settings(data_dir=tmp_path, encryption_key=None)

    with pytest.raises(MissingKeyError) as caught:
        await open_keyring(settings, database)

    message = caught.value.message
    assert "klost001" in message
    assert "BILLBRIDGE_ENCRYPTION_KEY" in message
    assert "encryption.key" in message
    assert lost.line().split(":", 1)[1] not in message
    assert not key_file_path(tmp_path).exists(), "no new key was written"


async def test_a_key_file_without_the_stored_key_is_refused(database: Database, tmp_path: Path) -> None:
    await _store_a_secret(database, Keyring([generate_key("kold0001")]))
    write_key_file(key_file_path(tmp_path), [generate_key("knew0001")])
    settings = get_settings(data_dir=tmp_path, encryption_key=None)

    with pytest.raises(MissingKeyError, match="kold0001"):
        await open_keyring(settings, database)


async def test_an_environment_keyring_without_the_stored_key_is_refused(
    database: Database, tmp_path: Path
) -> None:
    await _store_a_secret(database, Keyring([generate_key("kold0002")]))
    settings = get_settings(data_dir=tmp_path, encryption_key=SecretStr(generate_key("kenv0001").line()))

    with pytest.raises(MissingKeyError, match=r"kold0002.*BILLBRIDGE_ENCRYPTION_KEY"):
        await open_keyring(settings, database)


async def test_the_restored_key_opens(database: Database, tmp_path: Path) -> None:
    old = generate_key("kold0003")
    await _store_a_secret(database, Keyring([old]))
    settings = get_settings(
        data_dir=tmp_path, encryption_key=SecretStr(f"{generate_key().line()},{old.line()}")
    )

    keyring = await open_keyring(settings, database)

    assert "kold0003" in keyring.key_ids


async def test_an_empty_database_gets_a_new_key_file(database: Database, tmp_path: Path) -> None:
    settings = get_settings(data_dir=tmp_path, encryption_key=None)

    keyring = await open_keyring(settings, database)

    assert keyring.created_key_file == key_file_path(tmp_path)
