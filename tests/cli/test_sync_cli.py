"""`billbridge sync status` and `billbridge records` on a linked connection with stored syncs."""

from __future__ import annotations

import asyncio
import json

from cli_harness import SimServer
from test_link_and_connections import _link
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.settings import get_settings
from billbridge.store import (
    ConnectionRepository,
    Database,
    Keyring,
    RecordRepository,
    SyncResult,
    SyncStateRepository,
)


async def _seed(env: dict[str, str]) -> None:
    """A run of the vendors sync, as the engine records it: states, records, result."""
    settings = get_settings(data_dir=env["BILLBRIDGE_DATA_DIR"])
    db = await Database.open(settings)
    try:
        conn = await ConnectionRepository(db, Keyring.from_settings(settings)).get("cli-s", "bill-sandbox")
        assert conn is not None
        states = SyncStateRepository(db)
        for name, model in (("vendors", "Vendor"), ("bills", "Bill")):
            await states.ensure(conn.pk, name, model=model, frequency="every 1h", frequency_seconds=3600)
        vendors = [{"id": f"009{n:04d}", "name": f"Acme {n}", "archived": n == 2} for n in range(3)]
        await RecordRepository(db).upsert_page(conn.pk, "Vendor", vendors)
        await states.run_finished(conn.pk, "vendors", status="SUCCESS", result=SyncResult(added=2, deleted=1))
        await states.run_finished(conn.pk, "bills", status="ERROR", error="BILL answered 503 three times")
    finally:
        await db.close()


def test_sync_status_and_records(runner: CliRunner, cli_env: dict[str, str], sim_server: SimServer) -> None:
    creds = sim_server.demo()
    assert _link(runner, cli_env, creds, "--connection-id", "cli-s")[0] == 0
    asyncio.run(_seed(cli_env))

    table = runner.invoke(app, ["sync", "status", "cli-s"], env={**cli_env, "COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    for text in ("vendors (Vendor)", "SUCCESS", "+2 ~0 -1", "ERROR", "BILL answered 503 three times"):
        assert text in table.output
    listed = json.loads(runner.invoke(app, ["sync", "status", "--json"], env=cli_env).output)
    by_name = {s["sync"]: (s["status"], s["records"]) for s in listed}
    assert by_name["vendors"] == ("SUCCESS", 2)  # live records: the archived one is not counted
    assert by_name["bills"] == ("ERROR", 0)
    assert by_name["roles"][1] == 0  # the other default syncs, not run yet
    assert (
        "No syncs for connection 'ghost'"
        in runner.invoke(app, ["sync", "status", "ghost"], env=cli_env).output
    )

    shown = runner.invoke(
        app, ["records", "cli-s", "Vendor", "--limit", "2"], env=cli_env, terminal_width=200
    )
    assert shown.exit_code == 0, shown.output
    assert "name=Acme 0" in shown.output
    assert "Acme 2" not in shown.output  # --limit 2
    records = json.loads(runner.invoke(app, ["records", "cli-s", "Vendor", "--json"], env=cli_env).output)
    assert [r["_nango_metadata"]["last_action"] for r in records] == ["ADDED", "ADDED", "DELETED"]
    for output in (table.output, shown.output):
        assert creds["password"] not in output
        assert creds["dev_key"] not in output
    missing = runner.invoke(app, ["records", "ghost", "Vendor"], env=cli_env)
    assert missing.exit_code == 1
    assert "No connection 'ghost'" in missing.output
    assert "No Bill records" in runner.invoke(app, ["records", "cli-s", "Bill"], env=cli_env).output
