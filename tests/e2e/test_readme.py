"""The README's "Link your first account" runs as written (on free ports, in a scratch directory)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from support.processes import clean_environ, free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _first_account_script() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Link your first account", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "the section has no bash block"
    return match.group(1)


def test_link_your_first_account_works_as_written(tmp_path: Path) -> None:
    script = _first_account_script()
    assert "8111" in script
    assert "3003" in script
    script = script.replace("8111", str(free_port())).replace("3003", str(free_port()))
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")

    # Its own process group, so the servers it starts in the background die with it if it fails.
    shell = subprocess.Popen(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=tmp_path,
        env=clean_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = shell.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGTERM)

    assert shell.returncode == 0, stderr + (tmp_path / "billbridge.log").read_text()
    lines = stdout.strip().splitlines()
    assert lines[0].startswith("Connect link: http://127.0.0.1:")
    vendors = json.loads(lines[-1])
    assert len(vendors["results"]) == 3
