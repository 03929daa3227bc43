"""Drives the sync steps of @nangohq/node (``node/sync_steps.mjs``) against a running stack, and
reads or changes the simulator's records for comparison."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
from e2e_stack import Stack
from node_drivers import run_node

from billbridge.sync import get_sync
from billbridge.sync.definitions import SyncDefinition


def sim_location(definition: SyncDefinition) -> dict[str, str]:
    """The simulator's family of a sync: ``/v3/spend/cards`` is (spend, cards)."""
    path = definition.path.removeprefix("/v3/")
    if path.startswith("spend/"):
        return {"space": "spend", "family": path.removeprefix("spend/")}
    return {"space": "v3", "family": path}


@dataclass
class SyncDriver:
    """One linked connection of a stack, seen through Nango's Node client and the simulator."""

    stack: Stack
    connection_id: str = ""

    @property
    def org_id(self) -> str:
        return self.stack.demo["organization_id"]

    def node(self, step: str, **env: Any) -> dict[str, Any]:
        """Run one step of ``sync_steps.mjs``; JSON-encode every non-text setting."""
        settings = {key: value if isinstance(value, str) else json.dumps(value) for key, value in env.items()}
        tokens = self.stack.world["api_tokens"]
        token = next(t["token"] for t in tokens if t["organization_id"] == self.org_id)
        return run_node(
            "sync_steps.mjs",
            env={
                **self.stack.node_env(),
                "STEP": step,
                "API_TOKEN": token,
                "CONNECTION_ID": self.connection_id,
                **settings,
            },
            timeout=300,
        )

    def link(self) -> str:
        """Link the demo account with its Spend & Expense API token."""
        self.connection_id = str(self.node("link")["connectionId"])
        return self.connection_id

    def sim(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = httpx.request(method, f"{self.stack.sim}{path}", timeout=30, **kwargs)
        return answer.raise_for_status().json()

    def sim_objects(self, name: str) -> list[dict[str, Any]]:
        params = {**sim_location(get_sync(name)), "organization_id": self.org_id}
        results: list[dict[str, Any]] = self.sim("GET", "/_sim/objects", params=params)["results"]
        return results

    def sim_change(self, name: str, action: str, **body: Any) -> list[dict[str, Any]]:
        payload = {**sim_location(get_sync(name)), "organization_id": self.org_id, "action": action, **body}
        results: list[dict[str, Any]] = self.sim("POST", "/_sim/objects", json=payload)["results"]
        return results

    def list_models(self, names: tuple[str, ...], **params: Any) -> dict[str, dict[str, Any]]:
        """``listRecords`` paged to the end for each sync's model: {name: {records, pages}}."""
        queries = [{"model": get_sync(name).model, **params} for name in names]
        results = self.node("list", QUERIES=queries)["results"]
        return dict(zip(names, results, strict=True))


def payloads(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Records by id without Nango's metadata (each must appear once)."""
    ids = Counter(str(r["id"]) for r in records)
    assert [rid for rid, n in ids.items() if n > 1] == []
    return {str(r["id"]): {k: v for k, v in r.items() if k != "_nango_metadata"} for r in records}


def by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(r["id"]): r for r in records}
