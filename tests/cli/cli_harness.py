"""What the CLI tests share: the simulator served over HTTP for the commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class SimServer:
    """The simulator on a loopback port (commands use their real aiohttp transport)."""

    url: str
    world: dict[str, Any]

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = httpx.get(f"{self.url}/_sim/stats").json()
        return stats

    def demo(self) -> dict[str, str]:
        org = self.world["organizations"][0]
        return {
            "username": org["users"][0]["username"],
            "password": org["users"][0]["password"],
            "organization_id": org["id"],
            "dev_key": self.world["dev_keys"][0]["key"],
        }
