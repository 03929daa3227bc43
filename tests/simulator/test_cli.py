"""``billbridge simulator`` as a real process on a loopback port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.e2e
def test_command_serves_and_prints_demo_credentials() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable,
        "-c",
        "from billbridge.cli import main; main()",
        "simulator",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--records",
        "7",
        "--seed",
        "3",
        "--latency-ms",
        "0",
        "--organizations",
        "2",
        "--environment",
        "production",
    ]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while not any("S&E API token" in line for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
            assert time.monotonic() < deadline
        text = "".join(lines)
        root = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
        assert root, text
        assert "(production)" in text
        world = httpx.get(f"{root.group(1)}/_sim/world", timeout=10).json()
        org = world["organizations"][0]
        assert len(world["organizations"]) == 2
        for shown in (
            org["users"][0]["username"],
            org["users"][0]["password"],
            org["id"],
            world["dev_keys"][0]["key"],
            world["api_tokens"][0]["token"],
        ):
            assert shown in text
        login = httpx.post(
            f"{root.group(1)}/connect/v3/login",
            json={
                "username": org["users"][0]["username"],
                "password": org["users"][0]["password"],
                "organizationId": org["id"],
                "devKey": world["dev_keys"][0]["key"],
            },
            timeout=10,
        )
        assert login.status_code == 200
        vendors = httpx.get(
            f"{root.group(1)}/connect/v3/vendors",
            headers={"devKey": world["dev_keys"][0]["key"], "sessionId": login.json()["sessionId"]},
            timeout=10,
        ).json()
        assert len(vendors["results"]) == 7
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
