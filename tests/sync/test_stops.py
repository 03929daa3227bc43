"""What ends a connection's syncs or its records: rejected credentials, records BILL no longer lists."""

from __future__ import annotations

from sync_harness import SyncHarness


async def _set_password(harness: SyncHarness, username: str, password: str) -> None:
    """The user changed their password at BILL (the simulator's control surface)."""
    body = {"action": "change_password", "username": username, "password": password}
    (await harness.sim.post("/_sim/users", json=body)).raise_for_status()


async def test_rejected_credentials_stop_every_sync_of_the_connection(harness: SyncHarness) -> None:
    conn = await harness.link()
    await harness.run(conn, "vendors")
    await harness.run(conn, "bills")
    await _set_password(harness, conn.credentials.username, "changed-elsewhere")
    (await harness.sim.post("/_sim/sessions/invalidate")).raise_for_status()

    result = await harness.run(conn, "vendors")

    assert result == {"stopped": "invalid_credentials"}
    states = {s.name: s for s in await harness.states.list(connection_pk=conn.pk)}
    assert {s.status for s in states.values()} == {"STOPPED"}
    assert "re-link" in (states["bills"].last_error or "")
    logins = int((await harness.stats())["logins"])
    again = await harness.run(conn, "bills")  # no further login is tried for a rejected connection
    assert again == {"stopped": "invalid_credentials"}
    assert int((await harness.stats())["logins"]) == logins


async def test_a_record_gone_from_a_list_read_whole_is_deleted(harness: SyncHarness) -> None:
    conn = await harness.link()
    await harness.run(conn, "spend-users")
    users = await harness.sim_objects("spend-users")
    gone = users[-1]["id"]
    token = conn.credentials.api_token
    assert token is not None
    deleted = await harness.sim.delete(
        f"/connect/v3/spend/users/{gone}", headers={"apiToken": token.get_secret_value()}
    )
    assert deleted.status_code < 300, deleted.text

    result = await harness.run(conn, "spend-users")

    assert result["counts"]["deleted"] == 1
    stored = await harness.stored(conn, "spend-users")
    assert stored[gone]["_nango_metadata"]["last_action"] == "DELETED"
    assert {rid for rid, r in stored.items() if r["_nango_metadata"]["deleted_at"] is None} == {
        u["id"] for u in await harness.sim_objects("spend-users")
    }


async def test_a_full_refresh_deletes_what_bill_no_longer_returns(harness: SyncHarness) -> None:
    conn = await harness.link()
    await harness.run(conn, "vendors")
    # A record billbridge holds that BILL does not list (deleted at BILL, say): only a full read
    # can tell, since an incremental run never sees it again.
    await harness.records.upsert_page(conn.pk, "Vendor", [{"id": "00900000000000000000", "name": "Gone"}])

    incremental = await harness.run(conn, "vendors")
    assert incremental["counts"]["deleted"] == 0
    full = await harness.run(conn, "vendors", full=True)

    assert full["counts"] == {"added": 0, "updated": 0, "deleted": 1}
    stored = await harness.stored(conn, "vendors")
    assert stored["00900000000000000000"]["_nango_metadata"]["last_action"] == "DELETED"
