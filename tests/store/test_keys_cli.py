"""``billbridge keys generate`` and ``billbridge keys rotate`` (key file and environment variable)."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
from store_samples import link
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.cli import keys as _keys  # noqa: F401  (registers the command group)
from billbridge.settings import get_settings
from billbridge.store import ConnectionRepository, Keyring, create_database, generate_key, parse_keys
from billbridge.store.keyfile import key_file_path, read_key_file
from billbridge.store.models import SECRET_COLUMNS, ConnectionRow


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("BILLBRIDGE_") and name != "BILLBRIDGE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env file


def _link_one(database_url: str, keyring: Keyring) -> int:
    async def run() -> int:
        db = await create_database(database_url)
        try:
            conn, _ = await link(ConnectionRepository(db, keyring))
            return conn.pk
        finally:
            await db.close()

    return asyncio.run(run())


def _stored_key_ids(database_url: str) -> set[str | None]:
    from sqlalchemy import select

    async def run() -> set[str | None]:
        db = await create_database(database_url, run_migrations=False)
        try:
            async with db.session() as session:
                rows = (await session.execute(select(ConnectionRow))).scalars().all()
        finally:
            await db.close()
        tokens = [getattr(row, column) for row in rows for column in SECRET_COLUMNS]
        return {Keyring.key_id_of(t) for t in tokens if t is not None}

    return asyncio.run(run())


def _readable(database_url: str, keyring: Keyring, pk: int) -> bool:
    async def run() -> bool:
        db = await create_database(database_url, run_migrations=False)
        try:
            conn = await ConnectionRepository(db, keyring).get_by_pk(pk)
            return conn is not None and conn.credentials.password.get_secret_value() == "pw-a-Kx81!"
        finally:
            await db.close()

    return asyncio.run(run())


def test_generate_prints_a_valid_new_key_line() -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["keys", "generate"])
    second = runner.invoke(app, ["keys", "generate", "--id", "2025-06"])
    assert first.exit_code == 0
    assert second.exit_code == 0
    [key_a] = parse_keys(first.stdout.strip())
    [key_b] = parse_keys(second.stdout.strip())
    assert key_b.key_id == "2025-06"
    assert key_a.secret != key_b.secret
    assert "keys rotate" in first.stderr


def test_generate_refuses_a_bad_id() -> None:
    result = CliRunner().invoke(app, ["keys", "generate", "--id", "no spaces"])
    assert result.exit_code == 2
    assert result.stdout == ""


def test_rotate_with_the_environment_keyring(database_url: str) -> None:
    old, new = generate_key("old"), generate_key("new")
    pk = _link_one(database_url, Keyring([old]))
    env = {"BILLBRIDGE_DATABASE_URL": database_url, "BILLBRIDGE_ENCRYPTION_KEY": f"{new.line()},{old.line()}"}
    result = CliRunner().invoke(app, ["keys", "rotate"], env=env)
    assert result.exit_code == 0, result.output
    assert "under key new" in result.stdout
    assert "remove old" in result.stdout
    assert old.line() not in result.output
    assert new.line() not in result.output
    assert _stored_key_ids(database_url) == {"new"}
    assert _readable(database_url, Keyring([new]), pk)

    refused = CliRunner().invoke(app, ["keys", "rotate", "--new-key"], env=env)
    assert refused.exit_code == 2
    assert "BILLBRIDGE_ENCRYPTION_KEY is set" in refused.stderr


def test_rotate_with_the_key_file(sqlite_database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"BILLBRIDGE_DATA_DIR": str(data_dir), "BILLBRIDGE_DATABASE_URL": sqlite_database_url}
    first_ring = Keyring.from_settings(get_settings(data_dir=data_dir))
    assert first_ring.created_key_file is not None
    pk = _link_one(sqlite_database_url, first_ring)
    original = first_ring.primary_id

    added = CliRunner().invoke(app, ["keys", "rotate", "--new-key"], env=env)
    assert added.exit_code == 0, added.output
    ids = [k.key_id for k in read_key_file(key_file_path(data_dir))]
    assert len(ids) == 2
    assert ids[1] == original
    assert _stored_key_ids(sqlite_database_url) == {ids[0]}

    dropped = CliRunner().invoke(app, ["keys", "rotate", "--drop-old-keys"], env=env)
    assert dropped.exit_code == 0, dropped.output
    path = key_file_path(data_dir)
    assert [k.key_id for k in read_key_file(path)] == [ids[0]]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _readable(sqlite_database_url, Keyring.from_settings(get_settings(data_dir=data_dir)), pk)
    assert not _readable_or_error(sqlite_database_url, first_ring, pk)


def _readable_or_error(database_url: str, keyring: Keyring, pk: int) -> bool:
    from billbridge.errors import DecryptionError

    try:
        return _readable(database_url, keyring, pk)
    except DecryptionError:
        return False


def test_rotate_reports_an_unreadable_secret(sqlite_database_url: str) -> None:
    pk = _link_one(sqlite_database_url, Keyring([generate_key("lost")]))
    env = {
        "BILLBRIDGE_DATABASE_URL": sqlite_database_url,
        "BILLBRIDGE_ENCRYPTION_KEY": generate_key("new").line(),
    }
    result = CliRunner().invoke(app, ["keys", "rotate"], env=env)
    assert result.exit_code == 1
    assert "'lost'" in result.stderr
    assert _stored_key_ids(sqlite_database_url) == {"lost"}
    assert pk
