"""The SQLite data directory: private modes, warnings for readable files, one serving process."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from billbridge.errors import ConfigurationError
from billbridge.settings import get_settings
from billbridge.store import Database
from billbridge.store.data_dir import ServeLock, wide_permissions
from support.processes import child_env


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A permissive umask, as many hosts have: modes must not depend on it."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("open_umask")
async def test_a_new_data_directory_and_database_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    db = await Database.open(get_settings(data_dir=data_dir))
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
            await session.execute(text("INSERT INTO probe VALUES (1)"))
        database = data_dir / "billbridge.db"
        files = [database, data_dir / "billbridge.db-wal", data_dir / "billbridge.db-shm"]
        assert _mode(data_dir) == 0o700
        assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}
    finally:
        await db.close()


def test_readable_files_are_reported(tmp_path: Path) -> None:
    database = tmp_path / "billbridge.db"
    key_file = tmp_path / "encryption.key"
    for path, mode in ((database, 0o644), (tmp_path / "billbridge.db-wal", 0o600), (key_file, 0o640)):
        path.write_text("")
        path.chmod(mode)
    tmp_path.chmod(0o755)

    warnings = wide_permissions(tmp_path, database, key_file)

    assert len(warnings) == 3
    assert any(f"chmod 700 {tmp_path}" in w for w in warnings)
    assert any(f"chmod 600 {database}" in w and "0644" in w for w in warnings)
    assert any(f"chmod 600 {key_file}" in w for w in warnings)
    tmp_path.chmod(0o700)
    database.chmod(0o600)
    key_file.chmod(0o600)
    assert wide_permissions(tmp_path, database, key_file) == []


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from billbridge.store.data_dir import ServeLock
    ServeLock(Path(sys.argv[1])).acquire()
    print("locked", flush=True)
    time.sleep(600)
    """
)


def test_a_second_process_cannot_serve_the_same_database_until_the_first_dies(tmp_path: Path) -> None:
    database = tmp_path / "billbridge.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database)], stdout=subprocess.PIPE, text=True, env=child_env()
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"

        with pytest.raises(ConfigurationError) as caught:
            ServeLock(database).acquire()
        assert f"pid {holder.pid}" in caught.value.message
        assert "PostgreSQL" in caught.value.message

        holder.send_signal(signal.SIGKILL)  # no clean-up runs: the kernel drops the lock
        holder.wait(10)
        with ServeLock(database) as lock:
            assert lock.path.exists()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
