"""Real processes on loopback for the cross-process tests: the simulator and keeper workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

SRC = Path(__file__).resolve().parents[2] / "src"
WORKER = Path(__file__).resolve().parent / "keeper_worker.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@contextmanager
def simulator_process(*, records: int = 10, latency_ms: int = 0) -> Iterator[str]:
    """Serve the simulator with uvicorn on a loopback port; yields its gateway root."""
    port = free_port()
    code = (
        "import uvicorn\n"
        "from billbridge.simulator import SimConfig, create_app\n"
        f"app = create_app(SimConfig(records={records}, latency_ms={latency_ms}))\n"
        f"uvicorn.run(app, host='127.0.0.1', port={port}, log_level='warning')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=child_env())
    gateway = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(gateway + "/_sim/stats", proc)
        yield gateway
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until_up(url: str, proc: subprocess.Popen[bytes], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered at {url} within {timeout} s")
