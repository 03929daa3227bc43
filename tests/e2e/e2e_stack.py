"""The end-to-end stack's shape: the processes it runs and how tests talk to them."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from billbridge.cli.demo import demo_credentials
from support.processes import Running

BILLBRIDGE = str(Path(sys.executable).parent / "billbridge")
RECORDS = 120


@dataclass
class Stack:
    """The running processes and what a test needs to talk to them."""

    simulator: Running
    receiver: Running
    server: Running
    api: str
    sim: str
    secret_key: str
    data_dir: Path
    webhooks_file: Path
    world: dict[str, Any] = field(default_factory=dict)

    @property
    def demo(self) -> dict[str, str]:
        return demo_credentials(self.world)

    def node_env(self) -> dict[str, str]:
        return {
            "BILLBRIDGE_HOST": self.api,
            "SECRET_KEY": self.secret_key,
            "DEMO_CREDENTIALS": json.dumps(self.demo),
        }

    def webhooks(self) -> list[dict[str, Any]]:
        if not self.webhooks_file.exists():
            return []
        return [json.loads(line) for line in self.webhooks_file.read_text().splitlines() if line]

    def stop(self) -> None:
        for process in (self.server, self.receiver, self.simulator):
            process.stop()
