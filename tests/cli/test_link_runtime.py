"""`billbridge link` and `connections delete` go through the runtime: the operations log sees them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cli_harness import SimServer
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.settings import get_settings
from billbridge.store import Database, OperationRepository


def _operations(data_dir: str) -> list[tuple[str, str, str | None]]:
    async def read() -> list[tuple[str, str, str | None]]:
        db = await Database.open(get_settings(data_dir=Path(data_dir)))
        try:
            entries = await OperationRepository(db).list()
        finally:
            await db.close()
        return [(op.kind, op.outcome, op.connection_id) for op in reversed(entries)]

    return asyncio.run(read())


def test_link_relink_refusal_and_delete_are_in_the_operations_log(
    runner: CliRunner, cli_env: dict[str, str], sim_server: SimServer
) -> None:
    creds = sim_server.demo()
    args = ["link", "-i", "bill-sandbox", "--username", creds["username"], "--no-input"]
    args += ["--organization-id", creds["organization_id"], "--connection-id", "cli-log"]
    env = {
        **cli_env,
        "BILLBRIDGE_LINK_PASSWORD": creds["password"],
        "BILLBRIDGE_LINK_DEV_KEY": creds["dev_key"],
    }

    linked = runner.invoke(app, args, env=env)
    relinked = runner.invoke(app, args, env=env)
    refused = runner.invoke(app, args, env={**env, "BILLBRIDGE_LINK_PASSWORD": "not-it"})
    deleted = runner.invoke(app, ["connections", "delete", "cli-log", "--yes"], env=cli_env)

    assert [linked.exit_code, relinked.exit_code, refused.exit_code, deleted.exit_code] == [0, 0, 1, 0]
    assert _operations(cli_env["BILLBRIDGE_DATA_DIR"]) == [
        ("link", "creation", "cli-log"),
        ("link", "override", "cli-log"),
        ("link", "refused", "cli-log"),
        ("delete", "deleted", "cli-log"),
    ]
