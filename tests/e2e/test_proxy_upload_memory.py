"""A large upload through a real `billbridge serve` reaches the simulator intact while the server's
memory stays far below the upload's size (the body is relayed, never held whole)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_stack import BILLBRIDGE

from billbridge.cli.demo import demo_credentials
from support.processes import start, wait_http

pytestmark = pytest.mark.e2e

READY = r"listening on (http://127\.0\.0\.1:\d+)"
MIB = 1024 * 1024
UPLOAD = 96 * MIB
CHUNK = 256 * 1024


def peak_rss(pid: int) -> int:
    """The process's peak resident memory so far, in bytes (Linux: ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM line")


class Body:
    """The upload, generated while it is sent; its digest once sent."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def chunks(self) -> Iterator[bytes]:
        for index in range(UPLOAD // CHUNK):
            chunk = index.to_bytes(4, "big") * (CHUNK // 4)
            self.digest.update(chunk)
            yield chunk


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak memory from /proc")
def test_a_large_upload_is_relayed_without_the_server_holding_it(tmp_path: Path) -> None:
    secret_key = str(uuid.uuid4())
    simulator = start(
        [BILLBRIDGE, "simulator", "--port", "0", "--records", "5", "--organizations", "1"],
        log=tmp_path / "simulator.log",
        ready=READY,
    )
    server = None
    try:
        sim = simulator.ready.group(1)
        server = start(
            [BILLBRIDGE, "serve", "--port", "0"],
            log=tmp_path / "server.log",
            ready=READY,
            env={
                "BILLBRIDGE_DATA_DIR": str(tmp_path / "data"),
                "BILLBRIDGE_SECRET_KEY": secret_key,
                "BILLBRIDGE_BILL_SANDBOX_URL": sim,
                "BILLBRIDGE_PROXY_MAX_BODY_BYTES": str(2 * UPLOAD),
                "BILLBRIDGE_SYNC_DEFAULTS": "none",
            },
        )
        api = server.ready.group(1)
        wait_http(f"{api}/health")
        creds = demo_credentials(httpx.get(f"{sim}/_sim/world", timeout=10).json())
        with httpx.Client(
            base_url=api, timeout=60, headers={"Authorization": f"Bearer {secret_key}"}
        ) as http:
            token = http.post("/connect/sessions", json={"end_user": {"id": "u1"}}).json()["data"]["token"]
            linked = http.post(
                "/auth/bill/bill-sandbox", params={"connect_session_token": token}, json=creds
            ).json()
            ids = {"Connection-Id": linked["connectionId"], "Provider-Config-Key": "bill-sandbox"}
            vendor_id = http.get("/proxy/v3/vendors", params={"max": "1"}, headers=ids).json()["results"][0][
                "id"
            ]
            before = peak_rss(server.process.pid)
            body = Body()

            answer = http.post(
                f"/proxy/v3/attachments/vendors/{vendor_id}",
                params={"name": "scan.pdf"},
                headers={**ids, "Content-Type": "application/pdf", "Content-Length": str(UPLOAD)},
                content=body.chunks(),
            )

            grown = peak_rss(server.process.pid) - before
        assert answer.status_code == 200, answer.text
        (upload,) = httpx.get(f"{sim}/_sim/attachments", timeout=10).json()
        assert (upload["size"], upload["sha256"]) == (UPLOAD, body.digest.hexdigest())
        # Held whole, the body alone would add 96 MiB (192 MiB while joined).
        assert grown < 24 * MIB, f"the server's peak memory grew by {grown / MIB:.0f} MiB"
    finally:
        if server is not None:
            server.stop()
        simulator.stop()
