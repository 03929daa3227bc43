"""Uploads through a real `billbridge serve`: a large one reaches the simulator intact while the
server's memory stays far below its size (the body is relayed, never held whole), and one whose
caller hangs up half-way never reaches BILL whole."""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass
class Stack:
    """A simulator and a `billbridge serve` on loopback, one account linked."""

    sim: str
    api: str
    server_pid: int
    http: httpx.Client
    ids: dict[str, str]
    vendor_id: str


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
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
            vendors = http.get("/proxy/v3/vendors", params={"max": "1"}, headers=ids).json()
            yield Stack(sim, api, server.process.pid, http, ids, vendors["results"][0]["id"])
    finally:
        if server is not None:
            server.stop()
        simulator.stop()


def _uploads(stack: Stack) -> list[dict[str, object]]:
    found: list[dict[str, object]] = httpx.get(f"{stack.sim}/_sim/attachments", timeout=10).json()
    return found


def _in_flight(stack: Stack) -> float:
    """Busy BILL slots billbridge counts for the organization, from ``/metrics``."""
    metrics = stack.http.get("/metrics").text
    gauge = "billbridge_bill_in_flight{"
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(gauge))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak memory from /proc")
def test_a_large_upload_is_relayed_without_the_server_holding_it(stack: Stack) -> None:
    before = peak_rss(stack.server_pid)
    body = Body()

    answer = stack.http.post(
        f"/proxy/v3/attachments/vendors/{stack.vendor_id}",
        params={"name": "scan.pdf"},
        headers={**stack.ids, "Content-Type": "application/pdf", "Content-Length": str(UPLOAD)},
        content=body.chunks(),
    )

    grown = peak_rss(stack.server_pid) - before
    assert answer.status_code == 200, answer.text
    (upload,) = _uploads(stack)
    assert (upload["size"], upload["sha256"]) == (UPLOAD, body.digest.hexdigest())
    # Held whole, the body alone would add 96 MiB (192 MiB while joined).
    assert grown < 24 * MIB, f"the server's peak memory grew by {grown / MIB:.0f} MiB"


def test_a_caller_that_leaves_mid_upload_sends_bill_nothing_whole(stack: Stack) -> None:
    """Past the first megabyte the body is already flowing to BILL; when the caller hangs up, the
    request to BILL is cut off (never completed), its slot comes back and the server goes on."""
    declared, sent = 8 * MIB, 3 * MIB
    url = httpx.URL(stack.api)
    head = (
        f"POST /proxy/v3/attachments/vendors/{stack.vendor_id}?name=cut.pdf HTTP/1.1\r\n"
        f"Host: {url.host}:{url.port}\r\n"
        f"Authorization: {stack.http.headers['Authorization']}\r\n"
        f"Connection-Id: {stack.ids['Connection-Id']}\r\n"
        "Provider-Config-Key: bill-sandbox\r\n"
        "Content-Type: application/pdf\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    with socket.create_connection((url.host, url.port or 80), timeout=10) as caller:
        caller.sendall(head.encode())
        for _ in range(sent // CHUNK):
            caller.sendall(b"x" * CHUNK)
        deadline = time.monotonic() + 10
        while _in_flight(stack) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)  # wait until the relay to BILL holds its slot
        assert _in_flight(stack) == 1, "the upload never reached BILL"
    # The caller is gone: the slot comes back, and BILL never got a whole request.
    deadline = time.monotonic() + 10
    while _in_flight(stack) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _in_flight(stack) == 0
    assert _uploads(stack) == []

    after = stack.http.post(
        f"/proxy/v3/attachments/vendors/{stack.vendor_id}",
        params={"name": "whole.pdf"},
        headers={**stack.ids, "Content-Type": "application/pdf"},
        content=b"%PDF-1.4 whole",
    )
    assert after.status_code == 200, after.text
    assert [u["name"] for u in _uploads(stack)] == ["whole.pdf"]
