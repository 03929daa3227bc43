"""`billbridge serve` refuses to start where it would lose or expose data: real processes."""

from __future__ import annotations

import signal
import stat
import subprocess
from pathlib import Path

import pytest
from e2e_stack import BILLBRIDGE

from support.processes import clean_environ, start, wait_http

pytestmark = pytest.mark.e2e

READY = r"listening on (http://127\.0\.0\.1:\d+)"


def _serve_once(data_dir: Path, log: Path) -> str:
    """Start `billbridge serve`, wait until it answers, stop it; its output."""
    server = start(
        [BILLBRIDGE, "serve", "--port", "0"], log=log, ready=READY, env={"BILLBRIDGE_DATA_DIR": str(data_dir)}
    )
    try:
        wait_http(f"{server.ready.group(1)}/health")
    finally:
        assert server.stop() == 0
    return server.text()


def _run_to_exit(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BILLBRIDGE, "serve", "--port", "0"],
        env=clean_environ(BILLBRIDGE_DATA_DIR=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_second_serve_on_one_sqlite_directory_is_refused_until_the_first_is_killed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start(
        [BILLBRIDGE, "serve", "--port", "0"],
        log=tmp_path / "first.log",
        ready=READY,
        env={"BILLBRIDGE_DATA_DIR": str(data_dir)},
    )
    try:
        wait_http(f"{first.ready.group(1)}/health")

        second = _run_to_exit(data_dir)

        assert second.returncode == 2
        assert f"pid {first.process.pid}" in second.stderr
        assert "PostgreSQL" in second.stderr
    finally:
        first.stop(sig=signal.SIGKILL)
    third = start(
        [BILLBRIDGE, "serve", "--port", "0"],
        log=tmp_path / "third.log",
        ready=READY,
        env={"BILLBRIDGE_DATA_DIR": str(data_dir)},
    )
    try:
        wait_http(f"{third.ready.group(1)}/health")
    finally:
        assert third.stop() == 0


def test_a_lost_key_file_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _serve_once(data_dir, tmp_path / "first.log")
    key_file = data_dir / "encryption.key"
    key_id = next(line for line in key_file.read_text().splitlines() if not line.startswith("#")).split(":")[
        0
    ]
    key_file.unlink()

    again = _run_to_exit(data_dir)

    assert again.returncode == 2
    assert key_id in again.stderr
    assert "BILLBRIDGE_ENCRYPTION_KEY" in again.stderr
    assert not key_file.exists(), "no replacement key was created"


def test_files_are_private_and_wider_ones_are_reported(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = _serve_once(data_dir, tmp_path / "first.log")
    database = data_dir / "billbridge.db"
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert "Warning" not in first

    data_dir.chmod(0o755)
    database.chmod(0o644)
    output = _serve_once(data_dir, tmp_path / "second.log")
    assert f"chmod 700 {data_dir}" in output
    assert f"chmod 600 {database}" in output
