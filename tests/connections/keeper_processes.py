"""Real processes on loopback for the cross-process tests: the simulator and keeper workers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.processes import LOOPBACK, child_env, free_port, stop, wait_http

WORKER = Path(__file__).resolve().parent / "keeper_worker.py"


@contextmanager
def simulator_process(*, records: int = 10, latency_ms: int = 0) -> Iterator[str]:
    """Serve the simulator with uvicorn on a loopback port; yields its gateway root."""
    port = free_port()
    code = (
        "import uvicorn\n"
        "from billbridge.simulator import SimConfig, create_app\n"
        f"app = create_app(SimConfig(records={records}, latency_ms={latency_ms}))\n"
        f"uvicorn.run(app, host='{LOOPBACK}', port={port}, log_level='warning')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=child_env())
    gateway = f"http://{LOOPBACK}:{port}"
    try:
        wait_http(gateway + "/_sim/stats", process=proc)
        yield gateway
    finally:
        stop(proc)
