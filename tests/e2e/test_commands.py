"""`billbridge serve` and `billbridge demo` as an operator runs them: real processes, real ports."""

from __future__ import annotations

import re
import stat
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from e2e_stack import BILLBRIDGE

from support.processes import clean_environ, free_port, start, wait_http

pytestmark = pytest.mark.e2e

KEY_LINE = re.compile(r"^\s+([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\s*$", re.M)


def _serve(work: Path, name: str, **env: str) -> tuple[str, str]:
    """Start `billbridge serve` on a free port, check it answers, stop it; (API URL, its output)."""
    work.mkdir(parents=True, exist_ok=True)
    server = start(
        [BILLBRIDGE, "serve", "--port", "0"],
        log=work / f"{name}.log",
        ready=r"listening on (http://127\.0\.0\.1:\d+)",
        env={"BILLBRIDGE_DATA_DIR": str(work / "data"), **env},
    )
    try:
        wait_http(f"{server.ready.group(1)}/health")
    finally:
        assert server.stop() == 0
    return server.ready.group(1), server.text()


def test_first_start_creates_the_data_and_shows_the_secret_key_once(tmp_path: Path) -> None:
    api, first = _serve(tmp_path, "first")
    _, second = _serve(tmp_path, "second")

    keys = KEY_LINE.findall(first)
    assert len(keys) == 1
    assert "created the encryption key file" in first
    assert stat.S_IMODE((tmp_path / "data" / "encryption.key").stat().st_mode) == 0o600
    assert KEY_LINE.findall(second) == []
    assert "created the encryption key file" not in second
    assert "billbridge stopped." in second
    assert api.startswith("http://127.0.0.1:")


def test_the_printed_key_and_a_preset_key_both_authenticate(tmp_path: Path) -> None:
    _, first = _serve(tmp_path, "first")
    printed = KEY_LINE.findall(first)[0]
    server = start(
        [BILLBRIDGE, "serve", "--port", "0"],
        log=tmp_path / "again.log",
        ready=r"listening on (http://127\.0\.0\.1:\d+)",
        env={"BILLBRIDGE_DATA_DIR": str(tmp_path / "data")},
    )
    try:
        api = server.ready.group(1)
        wait_http(f"{api}/health")
        ok = httpx.get(f"{api}/integrations", headers={"Authorization": f"Bearer {printed}"})
        wrong = httpx.get(f"{api}/integrations", headers={"Authorization": "Bearer nope"})
        assert ok.status_code == 200
        assert wrong.status_code == 401
    finally:
        server.stop()

    preset = str(uuid.uuid4())
    api, output = _serve(tmp_path / "preset", "preset", BILLBRIDGE_SECRET_KEY=preset)
    assert preset not in output
    assert KEY_LINE.findall(output) == []


def test_a_bad_setting_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    completed = subprocess.run(
        [BILLBRIDGE, "serve", "--port", "0"],
        env={**clean_environ(), "BILLBRIDGE_PUBLIC_URL": "not a url", "BILLBRIDGE_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "BILLBRIDGE_PUBLIC_URL" in completed.stderr


def test_demo_prints_lines_that_link_and_proxy_as_written(tmp_path: Path) -> None:
    port, sim_port = free_port(), free_port()
    demo = start(
        [BILLBRIDGE, "demo", "--port", str(port), "--sim-port", str(sim_port), "--records", "12"],
        log=tmp_path / "demo.log",
        ready=r"Press Ctrl-C to stop\.",
        timeout=90,
    )
    try:
        output = demo.text()
        assert f"http://127.0.0.1:{port}/connect?session_token=nango_connect_session_" in output
        assert "Secret key of this demo" in output
        assert "organization_id" in output
        assert "dev_key" in output
        lines = [
            line.strip() for line in output.splitlines() if line.startswith(("  CONNECTION_ID=", "  curl "))
        ]
        assert len(lines) == 3
        assert "listRecords" in output
        # The link and proxy lines run as printed; the records line once the first syncs are done.
        records_loop = (
            f'for _ in $(seq 100); do OUT=$({lines[2]}); echo "$OUT" | grep -q 009 && break; sleep 0.3; done'
        )
        shell = subprocess.run(
            ["bash", "-c", "set -e\n" + "\n".join(lines[:2]) + f'\n{records_loop}\necho "$OUT" >&2'],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert shell.returncode == 0, shell.stderr
        vendors = httpx.Response(200, content=shell.stdout.encode()).json()
        assert len(vendors["results"]) == 5
        assert vendors["results"][0]["id"].startswith("009")
        records = httpx.Response(200, content=shell.stderr.encode()).json()
        assert len(records["records"]) == 5
        assert records["records"][0]["_nango_metadata"]["last_action"] in {"ADDED", "DELETED"}
    finally:
        code = demo.stop()
    assert code == 0
    assert "billbridge demo stopped." in demo.text()
