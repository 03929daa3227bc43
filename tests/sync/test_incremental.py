"""Changes behind billbridge's back appear after the next run with the right last_action."""

from __future__ import annotations

from sync_harness import SyncHarness, payloads


async def test_add_change_archive_restore_after_the_next_run(harness: SyncHarness) -> None:
    conn = await harness.link()
    await harness.run(conn, "vendors")
    before = await harness.sim_objects("vendors")
    live = [r for r in before if not r.get("archived")]
    changed, archived = live[0], live[1]
    await harness.advance(1)
    [added] = await harness.mutate("vendors", "add", fields={"name": "Fresh Vendor"})
    await harness.mutate("vendors", "change", id=changed["id"], fields={"name": "Renamed Vendor"})
    await harness.mutate("vendors", "archive", id=archived["id"])

    second = await harness.run(conn, "vendors")
    stored = await harness.stored(conn, "vendors")
    actions = {rid: r["_nango_metadata"]["last_action"] for rid, r in stored.items()}
    assert actions[added["id"]] == "ADDED"
    assert actions[changed["id"]] == "UPDATED"
    assert stored[changed["id"]]["name"] == "Renamed Vendor"
    assert actions[archived["id"]] == "DELETED"
    assert stored[archived["id"]]["_nango_metadata"]["deleted_at"] is not None
    assert second["counts"] == {"added": 1, "updated": 1, "deleted": 1}
    state = await harness.states.get(conn.pk, "vendors")
    assert state is not None
    assert state.sync_type == "INCREMENTAL"

    await harness.advance(1)
    await harness.mutate("vendors", "restore", id=archived["id"])
    third = await harness.run(conn, "vendors")
    stored = await harness.stored(conn, "vendors")
    assert stored[archived["id"]]["_nango_metadata"]["last_action"] == "UPDATED"
    assert stored[archived["id"]]["_nango_metadata"]["deleted_at"] is None
    assert third["counts"] == {"added": 0, "updated": 1, "deleted": 0}
    assert payloads(stored) == {r["id"]: r for r in await harness.sim_objects("vendors")}


async def test_more_records_sharing_one_timestamp_than_fit_a_page(harness: SyncHarness) -> None:
    conn = await harness.link()
    await harness.run(conn, "bills")
    await harness.advance(1)
    added = await harness.mutate("bills", "add", count=345)
    assert len({r["updatedTime"] for r in added}) == 1
    result = await harness.run(conn, "bills")
    assert result["counts"]["added"] == 345
    assert payloads(await harness.stored(conn, "bills")) == {
        r["id"]: r for r in await harness.sim_objects("bills")
    }


async def test_an_unchanged_list_changes_nothing(harness: SyncHarness) -> None:
    conn = await harness.link()
    await harness.run(conn, "customers")
    again = await harness.run(conn, "customers")
    assert again["counts"] == {"added": 0, "updated": 0, "deleted": 0}


async def test_lists_read_whole_are_diffed(harness: SyncHarness) -> None:
    conn = await harness.link()
    first = await harness.run(conn, "spend-cards")
    assert first["records"] == len(await harness.sim_objects("spend-cards"))
    again = await harness.run(conn, "spend-cards")
    assert again["counts"] == {"added": 0, "updated": 0, "deleted": 0}
    state = await harness.states.get(conn.pk, "spend-cards")
    assert state is not None
    assert state.sync_type == "INCREMENTAL"  # no checkpoint, but not the first run any more
    await harness.run(conn, "spend-cards", full=True)
    state = await harness.states.get(conn.pk, "spend-cards")
    assert state is not None
    assert state.sync_type == "INITIAL"
