"""`billbridge sync run` and `billbridge worker` as an operator types them."""

from __future__ import annotations

import re

from cli_harness import SimServer
from typer.testing import CliRunner

from billbridge.cli import app


def test_sync_run_follows_the_runs_to_the_end(
    runner: CliRunner, cli_env: dict[str, str], sim_server: SimServer
) -> None:
    creds = sim_server.demo()
    linked = runner.invoke(
        app,
        [
            "link",
            "-i",
            "bill-sandbox",
            "--username",
            creds["username"],
            "--organization-id",
            creds["organization_id"],
            "--connection-id",
            "c1",
            "--no-input",
        ],
        env={
            **cli_env,
            "BILLBRIDGE_LINK_PASSWORD": creds["password"],
            "BILLBRIDGE_LINK_DEV_KEY": creds["dev_key"],
        },
    )
    assert linked.exit_code == 0, linked.output

    ran = runner.invoke(
        app, ["sync", "run", "c1", "--sync", "vendors", "--sync", "roles"], env={**cli_env, "COLUMNS": "200"}
    )

    assert ran.exit_code == 0, ran.output
    assert "Sync run of connection c1: vendors, roles" in ran.output
    assert "vendors: SUCCESS {'added': " in ran.output
    assert "roles: SUCCESS" in ran.output
    # The progress bars, read from the run's recorded steps (whichever process ran it).
    for name, records in (("vendors", 10), ("roles", 6)):
        bar = rf"{name}\s.*\b1 pages\s+{records} records\s+\d+ records/s\s+budget left \d+\s+SUCCESS"
        assert re.search(bar, ran.output), ran.output
    assert creds["dev_key"] not in ran.output
    unknown = runner.invoke(app, ["sync", "run", "c1", "--sync", "nope"], env=cli_env)
    assert unknown.exit_code == 1
    assert "unknown sync 'nope'" in unknown.output


def test_worker_refuses_sqlite(runner: CliRunner, cli_env: dict[str, str]) -> None:
    result = runner.invoke(app, ["worker"], env=cli_env)
    assert result.exit_code == 2
    assert "billbridge worker needs PostgreSQL" in result.output
