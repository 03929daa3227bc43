"""Real processes for the end-to-end tests: start, wait until ready, stop; Node drivers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

NODE_DIR = Path(__file__).parent / "node"
BILLBRIDGE = [sys.executable, "-m", "billbridge.cli"]


@dataclass
class Running:
    """A started process, its log file and what its readiness line said."""

    process: subprocess.Popen[bytes]
    log: Path
    ready: re.Match[str]

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, *, timeout: float = 15.0) -> int:
        """Ask politely (SIGINT), then insist; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return int(self.process.returncode)


def clean_environ() -> dict[str, str]:
    """This process's environment without any BILLBRIDGE_ setting (each test sets its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("BILLBRIDGE_")}


def start(
    command: list[str], *, log: Path, ready: str, env: Mapping[str, str] | None = None, timeout: float = 60.0
) -> Running:
    """Start ``command`` with stdout and stderr in ``log``; wait for ``ready`` (a regex) to appear."""
    handle = log.open("wb")
    process = subprocess.Popen(
        command,
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**clean_environ(), **(env or {})},
        cwd=log.parent,
    )
    handle.close()
    deadline = time.monotonic() + timeout
    pattern = re.compile(ready)
    while time.monotonic() < deadline:
        match = pattern.search(log.read_text(errors="replace"))
        if match:
            return Running(process=process, log=log, ready=match)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait(5)
    raise AssertionError(f"{command[:4]} did not become ready:\n{log.read_text(errors='replace')[-3000:]}")


def wait_http(url: str, *, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not answer")


def run_node(script: str, *, env: Mapping[str, str], timeout: float = 120.0) -> dict[str, Any]:
    """Run a driver in tests/e2e/node and return the JSON object it prints last."""
    completed = subprocess.run(
        ["node", script],
        cwd=NODE_DIR,
        env={**clean_environ(), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise AssertionError(f"node {script} failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result
