"""No secret reaches the database in plaintext: scan the SQLite file and WAL, and a pg_dump."""

from __future__ import annotations

import glob
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from billbridge.store import (
    ApiKeyRepository,
    BillCredentials,
    ConnectionRepository,
    ConnectSessionRepository,
    Database,
    Keyring,
    OperationRepository,
    SessionState,
    create_database,
)
from fixtures_db import TEST_KEY_LINE, libpq_dsn

USERNAME = "scan.user.7Q2@example.com"
SECRETS = {
    "password": "Pw-ScanCanary-83mVqL",
    "dev_key": "DevKey-ScanCanary-01HZX9",
    "api_token": "ApiToken-ScanCanary-Jt4w",
    "session_id": "Sess-ScanCanary-x9Kp2",
    "remember_me_id": "Remember-ScanCanary-a1b2",
    "new_password": "Pw-ScanCanary-Relinked-5tR",
    "secret_key": "SecretKey-ScanCanary-Preset-77",
}


async def _store_everything(db: Database, keyring: Keyring) -> list[str]:
    """Write every kind of secret the store keeps; return the secrets that must not appear."""
    connections = ConnectionRepository(db, keyring)
    at = datetime(2025, 1, 2, tzinfo=UTC)
    session = SessionState(
        session_id=SecretStr(SECRETS["session_id"]),
        user_id="00601SCAN",
        started_at=at,
        last_used_at=at,
        raw={"sessionId": SECRETS["session_id"], "userId": "00601SCAN"},
    )
    creds = BillCredentials(
        username=USERNAME,
        password=SecretStr(SECRETS["password"]),
        organization_id="00801SCANSCANSCANSCA",
        dev_key=SecretStr(SECRETS["dev_key"]),
        api_token=SecretStr(SECRETS["api_token"]),
        remember_me_id=SecretStr(SECRETS["remember_me_id"]),
        device="scan-laptop",
    )
    common = {
        "connection_id": "scan-conn",
        "provider_config_key": "bill-sandbox",
        "environment": "sandbox",
        "session": session,
        "end_user": {"id": "scan-user"},
        "tags": {},
        "webhook_url_override": None,
        "connection_config": {},
    }
    conn, _ = await connections.upsert_linked(credentials=creds, **common)  # type: ignore[arg-type]
    # Re-link with a new password: the old one must not linger either.
    relinked = BillCredentials(
        username=USERNAME,
        password=SecretStr(SECRETS["new_password"]),
        organization_id=creds.organization_id,
        dev_key=creds.dev_key,
        api_token=creds.api_token,
        remember_me_id=creds.remember_me_id,
    )
    await connections.upsert_linked(credentials=relinked, **common)  # type: ignore[arg-type]
    async with connections.login_lock(conn.pk) as handle:
        await handle.save_session(session)
    token, _ = await ConnectSessionRepository(db).create(
        end_user={"id": "scan-user"},
        organization=None,
        allowed_integrations=None,
        integrations_config_defaults={},
        tags={},
        webhook_url_override=None,
        reconnect=None,
    )
    api_keys = ApiKeyRepository(db, keyring)
    generated = await ApiKeyRepository(db).ensure_secret_key(None)
    await api_keys.ensure_secret_key(SecretStr(SECRETS["secret_key"]))
    await OperationRepository(db).record(kind="link", outcome="ok", connection_id="scan-conn")
    key_material = TEST_KEY_LINE.partition(":")[2]
    return [
        *SECRETS.values(),
        token,
        token.removeprefix("nango_connect_session_"),
        str(generated),
        key_material,
    ]


def _assert_clean(blob: bytes, secrets: list[str]) -> None:
    # The plaintext that may be stored must be found, or the scan proves nothing.
    assert USERNAME.encode() in blob
    leaked = [s for s in secrets if s.encode() in blob or s.encode("utf-16-le") in blob]
    assert leaked == []


async def test_sqlite_file_and_wal_hold_no_secret(sqlite_database_url: str, keyring: Keyring) -> None:
    db = await create_database(sqlite_database_url, run_migrations=False)
    path = Path(str(make_url(sqlite_database_url).database))
    try:
        secrets = await _store_everything(db, keyring)
        files = [path, path.with_name(path.name + "-wal")]
        assert files[1].stat().st_size > 0  # still in the WAL: scanned before any checkpoint
        _assert_clean(b"".join(f.read_bytes() for f in files if f.exists()), secrets)
    finally:
        await db.close()
    _assert_clean(b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*")), secrets)


def _pg_dump() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))
    if not found:
        pytest.fail("pg_dump not found: install the 'postgresql' package")
    return found[-1]


@pytest.mark.postgres
async def test_postgres_dump_holds_no_secret(postgres_database_url: str, keyring: Keyring) -> None:
    db = await create_database(postgres_database_url, run_migrations=False)
    try:
        secrets = await _store_everything(db, keyring)
    finally:
        await db.close()
    dump = subprocess.run(
        [_pg_dump(), "--dbname", libpq_dsn(postgres_database_url), "--no-owner"],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    _assert_clean(dump, secrets)
