"""What the CLI tests share: the simulator served over HTTP for the commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from billbridge.cli.demo import demo_credentials


@dataclass
class SimServer:
    """The simulator on a loopback port (commands use their real aiohttp transport)."""

    url: str
    world: dict[str, Any]

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = httpx.get(f"{self.url}/_sim/stats").json()
        return stats

    def demo(self) -> dict[str, str]:
        return demo_credentials(self.world)
