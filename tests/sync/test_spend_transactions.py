"""Spend & Expense transactions filter on ``updatedTime`` (BILL's changelog of 2026-01-26) though
they cannot sort on it: after the first run, a run reads only what changed since its checkpoint."""

from __future__ import annotations

from datetime import UTC, datetime

from sync_harness import SyncHarness, payloads

from billbridge.sync.cursor import settle

SYNC = "spend-transactions"
PAGE = 50


async def _requests(harness: SyncHarness) -> int:
    return int((await harness.stats())["requests"])


async def test_after_the_first_run_only_changed_transactions_are_read(harness: SyncHarness) -> None:
    conn = await harness.link()
    listed = await harness.sim_objects(SYNC)
    assert len(listed) > 2 * PAGE
    first = await harness.run(conn, SYNC)
    assert first["records"] == len(listed)
    state = await harness.states.get(conn.pk, SYNC)
    assert state is not None
    assert state.checkpoint is not None
    checkpoint = state.checkpoint["updatedTime"]

    await harness.advance(60)
    changed = listed[3]
    await harness.mutate(SYNC, "change", id=changed["id"], fields={"memo": "Team lunch, receipts attached"})
    before = await _requests(harness)
    second = await harness.run(conn, SYNC)

    assert await _requests(harness) - before == 1  # one filtered page, not the whole list again
    assert second["counts"] == {"added": 0, "updated": 1, "deleted": 0}
    assert second["records"] < PAGE  # the change, and what the small overlap reads again
    stored = await harness.stored(conn, SYNC)
    assert stored[changed["id"]]["_nango_metadata"]["last_action"] == "UPDATED"
    assert stored[changed["id"]]["memo"] == "Team lunch, receipts attached"
    assert payloads(stored) == {r["id"]: r for r in await harness.sim_objects(SYNC)}
    state = await harness.states.get(conn.pk, SYNC)
    assert state is not None
    assert state.sync_type == "INCREMENTAL"
    assert state.checkpoint is not None
    assert state.checkpoint["updatedTime"] > checkpoint

    # Nothing changed: one page, nothing stored, and the checkpoint does not creep back.
    before = await _requests(harness)
    third = await harness.run(conn, SYNC)
    assert await _requests(harness) - before == 1
    assert third["counts"] == {"added": 0, "updated": 0, "deleted": 0}
    again = await harness.states.get(conn.pk, SYNC)
    assert again is not None
    assert again.checkpoint is not None
    assert again.checkpoint["updatedTime"] >= state.checkpoint["updatedTime"]


async def test_a_full_refresh_reads_every_transaction_again(harness: SyncHarness) -> None:
    conn = await harness.link()
    await harness.run(conn, SYNC)
    refreshed = await harness.run(conn, SYNC, full=True)
    assert refreshed["records"] == len(await harness.sim_objects(SYNC))
    assert refreshed["counts"] == {"added": 0, "updated": 0, "deleted": 0}


def test_the_checkpoint_reaches_back_by_the_length_of_the_walk() -> None:
    newest = "2026-03-01T10:00:30.000Z"
    assert settle(newest, 20.0) == "2026-03-01T10:00:10.000Z"
    # Never behind the checkpoint the walk started from (it is older than the walk's start).
    assert settle(newest, 20.0, floor="2026-03-01T10:00:25.000Z") == "2026-03-01T10:00:25.000Z"
    assert settle(None, 5.0, floor=None) is None
    assert datetime.fromisoformat(settle(newest, 0.0) or "") == datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)
