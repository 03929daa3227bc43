"""First runs of every sync store exactly what the simulator holds."""

from __future__ import annotations

import asyncio

from dbos import DBOS
from sync_harness import SyncHarness, payloads

from billbridge.sync import SYNCS


async def test_first_run_of_vendors_stores_every_record(harness: SyncHarness) -> None:
    conn = await harness.link()
    result = await harness.run(conn, "vendors")
    expected = {r["id"]: r for r in await harness.sim_objects("vendors")}
    stored = await harness.stored(conn, "vendors")
    assert payloads(stored) == expected
    assert result["records"] == len(expected)
    assert result["counts"]["added"] + result["counts"]["deleted"] == len(expected)
    state = await harness.states.get(conn.pk, "vendors")
    assert state is not None
    assert state.status == "SUCCESS"
    assert state.sync_type == "INITIAL"
    assert state.checkpoint == {"updatedTime": max_time(expected.values())}


def max_time(records: object) -> str:
    from billbridge.sync.cursor import as_text, parse_time

    stamps = [parse_time(r["updatedTime"]) for r in records]  # type: ignore[attr-defined]
    return as_text(max(s for s in stamps if s is not None))


async def test_default_syncs_of_a_new_connection_all_complete(harness: SyncHarness) -> None:
    conn = await harness.link()
    queued = await harness.engine.start_defaults(conn)
    assert sorted(q.sync for q in queued) == sorted(SYNCS)
    handles = [await DBOS.retrieve_workflow_async(q.workflow_id) for q in queued if q.workflow_id]
    results = await asyncio.gather(*(h.get_result() for h in handles))
    assert all("counts" in r for r in results)
    for name in SYNCS:
        expected = {r["id"]: r for r in await harness.sim_objects(name)}
        assert payloads(await harness.stored(conn, name)) == expected, name
    states = await harness.states.list(connection_pk=conn.pk)
    assert {s.name: s.status for s in states} == dict.fromkeys(SYNCS, "SUCCESS")
    assert {s.name: s.frequency for s in states if s.name in ("roles", "vendors")} == {
        "roles": "every 1d",
        "vendors": "every 1h",
    }
