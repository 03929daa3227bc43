"""`billbridge link` and `billbridge connections list|show|delete` against a simulator over HTTP."""

from __future__ import annotations

import json

from cli_harness import SimServer
from typer.testing import CliRunner

from billbridge.cli import app


def _link(runner: CliRunner, env: dict[str, str], creds: dict[str, str], *extra: str) -> tuple[int, str]:
    result = runner.invoke(
        app,
        [
            "link",
            "--integration",
            "bill-sandbox",
            "--username",
            creds["username"],
            "--organization-id",
            creds["organization_id"],
            "--no-input",
            *extra,
        ],
        env={
            **env,
            "BILLBRIDGE_LINK_PASSWORD": creds["password"],
            "BILLBRIDGE_LINK_DEV_KEY": creds["dev_key"],
        },
    )
    return result.exit_code, result.output


def test_link_without_prompts_then_list_show_and_delete(
    runner: CliRunner, cli_env: dict[str, str], sim_server: SimServer
) -> None:
    creds = sim_server.demo()

    code, output = _link(runner, cli_env, creds, "--connection-id", "cli-1", "--end-user-id", "eu-7")

    assert code == 0, output
    assert "Linked connection cli-1 (bill-sandbox)" in output
    listed = runner.invoke(app, ["connections", "list"], env=cli_env)
    assert listed.exit_code == 0
    assert "cli-1" in listed.output
    shown = runner.invoke(app, ["connections", "show", "cli-1", "--json"], env=cli_env)
    facts = json.loads(shown.output)
    assert facts["username"] == creds["username"]
    assert facts["end_user"] == {"id": "eu-7"}
    assert facts["session"]["present"] is True
    table = runner.invoke(app, ["connections", "show", "cli-1"], env=cli_env)
    for output_text in (output, listed.output, shown.output, table.output):
        assert creds["password"] not in output_text
        assert creds["dev_key"] not in output_text
    assert sim_server.stats()["sessions"] == 1

    deleted = runner.invoke(app, ["connections", "delete", "cli-1", "--yes"], env=cli_env)

    assert deleted.exit_code == 0, deleted.output
    assert sim_server.stats()["sessions"] == 0  # BILL was told to end the session
    assert "No connections yet" in runner.invoke(app, ["connections", "list"], env=cli_env).output


def test_relink_of_the_same_id_says_so(
    runner: CliRunner, cli_env: dict[str, str], sim_server: SimServer
) -> None:
    creds = sim_server.demo()
    assert _link(runner, cli_env, creds, "--connection-id", "same")[0] == 0

    code, output = _link(runner, cli_env, creds, "--connection-id", "same")

    assert code == 0
    assert "Re-linked connection same" in output


def test_refused_login_is_explained_and_nothing_is_stored(
    runner: CliRunner, cli_env: dict[str, str], sim_server: SimServer
) -> None:
    creds = {**sim_server.demo(), "password": "not-the-password"}

    code, output = _link(runner, cli_env, creds)

    assert code == 1
    assert "not accepted by BILL's sandbox" in output
    assert "(field: password)" in output
    assert "not-the-password" not in output
    listed = runner.invoke(app, ["connections", "list", "--json"], env=cli_env)
    assert json.loads(listed.output) == []


def test_prompts_ask_again_for_a_refused_field(
    runner: CliRunner, cli_env: dict[str, str], sim_server: SimServer
) -> None:
    creds = sim_server.demo()
    answers = [
        "bill-sandbox",
        "not-an-email",
        creds["password"],
        creds["organization_id"],
        creds["dev_key"],
        creds["username"],
    ]

    result = runner.invoke(app, ["link"], input="\n".join(answers) + "\n", env=cli_env)

    assert result.exit_code == 0, result.output
    assert "username must be the e-mail address" in result.output
    assert "Linked connection" in result.output
    assert creds["password"] not in result.output


def test_missing_values_without_prompts_name_the_option(runner: CliRunner, cli_env: dict[str, str]) -> None:
    result = runner.invoke(app, ["link", "--integration", "bill-sandbox", "--no-input"], env=cli_env)
    assert result.exit_code == 1
    assert "--username is required with --no-input" in result.output
    unknown = runner.invoke(app, ["link", "--integration", "xero", "--no-input"], env={
        **cli_env, "BILLBRIDGE_LINK_PASSWORD": "p", "BILLBRIDGE_LINK_DEV_KEY": "k"
    })  # fmt: skip
    assert unknown.exit_code == 1


def test_show_and_delete_of_an_unknown_connection(runner: CliRunner, cli_env: dict[str, str]) -> None:
    shown = runner.invoke(app, ["connections", "show", "ghost"], env=cli_env)
    deleted = runner.invoke(app, ["connections", "delete", "ghost", "--yes"], env=cli_env)
    assert shown.exit_code == deleted.exit_code == 1
    assert "No connection 'ghost'" in shown.output
