"""``billbridge simulator`` as a real process on a loopback port."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import httpx
import pytest

from billbridge.cli.demo import demo_credentials
from support.processes import python_path, start


@pytest.mark.e2e
def test_command_serves_and_prints_demo_credentials(tmp_path: Path) -> None:
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
    simulator = start(
        command,
        log=tmp_path / "simulator.log",
        ready=r"S&E API token[^\n]*\n",
        env={"PYTHONPATH": python_path()},
    )
    try:
        text = simulator.text()
        root = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
        assert root, text
        assert "(production)" in text
        world = httpx.get(f"{root.group(1)}/_sim/world", timeout=10).json()
        demo = demo_credentials(world)
        assert len(world["organizations"]) == 2
        for shown in (*demo.values(), world["api_tokens"][0]["token"]):
            assert shown in text
        login = httpx.post(
            f"{root.group(1)}/connect/v3/login",
            json={
                "username": demo["username"],
                "password": demo["password"],
                "organizationId": demo["organization_id"],
                "devKey": demo["dev_key"],
            },
            timeout=10,
        )
        assert login.status_code == 200
        vendors = httpx.get(
            f"{root.group(1)}/connect/v3/vendors",
            headers={"devKey": demo["dev_key"], "sessionId": login.json()["sessionId"]},
            timeout=10,
        ).json()
        assert len(vendors["results"]) == 7
    finally:
        simulator.stop()
