"""First runs of every default sync store exactly what the simulator holds."""

from __future__ import annotations

import pytest
from sync_harness import SyncHarness, payloads

from billbridge.sync import SYNCS


async def test_first_run_of_vendors_stores_every_record(harness: SyncHarness) -> None:
    conn = await harness.link()
    result = await harness.run(conn, "vendors")
    expected = {r["id"]: r for r in await harness.sim_objects("vendors")}
    stored = await harness.stored(conn, "vendors")
    assert payloads(stored) == expected
    assert result["counts"]["added"] + result["counts"]["deleted"] == len(expected)
    assert {r["_nango_metadata"]["last_action"] for r in stored.values()} <= {"ADDED", "DELETED"}
