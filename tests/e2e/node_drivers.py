"""Nango's official Node clients, run as drivers of the end-to-end tests."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from support.processes import clean_environ

NODE_DIR = Path(__file__).parent / "node"


def run_node(script: str, *, env: Mapping[str, str], timeout: float = 120.0) -> dict[str, Any]:
    """Run a driver in tests/e2e/node and return the JSON object it prints last."""
    completed = subprocess.run(
        ["node", script],
        cwd=NODE_DIR,
        env=clean_environ(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise AssertionError(f"node {script} failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result
