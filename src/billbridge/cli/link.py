"""``billbridge link``: link a BILL account from the terminal (prompts, hidden password)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from billbridge.cli import app
from billbridge.cli._output import console, err_console, fail, load_settings
from billbridge.connections import (
    LinkForm,
    LinkInputError,
    LinkOutcome,
    LinkRefusedError,
    LinkTarget,
    get_integration,
    parse_link_form,
)
from billbridge.errors import BillbridgeError
from billbridge.runtime import open_runtime
from billbridge.settings import Settings

_PROMPTS = {
    "username": ("BILL username (the e-mail you sign in with)", False),
    "password": ("Password", True),
    "organization_id": ("Organization ID (begins with 008)", False),
    "dev_key": ("Developer key", True),
}


@app.command()
def link(
    integration: Annotated[
        str | None, typer.Option("--integration", "-i", help="bill (production) or bill-sandbox.")
    ] = None,
    username: Annotated[str | None, typer.Option(help="BILL username (e-mail).")] = None,
    organization_id: Annotated[str | None, typer.Option(help="BILL organization ID (008...).")] = None,
    password: Annotated[
        str | None, typer.Option(envvar="BILLBRIDGE_LINK_PASSWORD", help="Password (prefer the prompt).")
    ] = None,
    dev_key: Annotated[
        str | None, typer.Option(envvar="BILLBRIDGE_LINK_DEV_KEY", help="Developer key (prefer the prompt).")
    ] = None,
    api_token: Annotated[
        str | None,
        typer.Option(envvar="BILLBRIDGE_LINK_API_TOKEN", help="Optional Spend & Expense API token."),
    ] = None,
    connection_id: Annotated[
        str | None, typer.Option(help="Connection id to create or re-link (default: a new UUID).")
    ] = None,
    end_user_id: Annotated[
        str | None, typer.Option(help="Your end user's id, stored on the connection.")
    ] = None,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never prompt; fail on what is missing.")
    ] = False,
) -> None:
    """Log in to BILL with the given credentials and store the connection if BILL accepts."""
    settings = load_settings()
    interactive = not no_input
    key = integration or _ask_integration(interactive)
    values = {
        "username": username,
        "password": password,
        "organization_id": organization_id,
        "dev_key": dev_key,
    }
    form = _form(values, api_token, interactive=interactive)
    end_user = {"id": end_user_id} if end_user_id else None
    target = LinkTarget(connection_id=connection_id, end_user=end_user)
    try:
        outcome = asyncio.run(_link(settings, key, form, target))
    except LinkRefusedError as exc:
        where = f" (field: {exc.field})" if exc.field else ""
        fail(f"{exc.message}{where}")
    except BillbridgeError as exc:
        fail(exc.message)
    conn = outcome.connection
    verb = "Linked" if outcome.created else "Re-linked"
    console.print(f"[green]{verb}[/] connection [bold]{conn.connection_id}[/] ({conn.provider_config_key}).")
    console.print(
        f"  BILL user {conn.session.user_id or '-'} in organization {conn.credentials.organization_id}"
    )


def _ask_integration(interactive: bool) -> str:
    if not interactive:
        fail("--integration is required (bill or bill-sandbox).")
    return str(typer.prompt("Integration (bill or bill-sandbox)", default="bill-sandbox"))


def _form(values: dict[str, str | None], api_token: str | None, *, interactive: bool) -> LinkForm:
    """Prompt for what is missing, then re-ask only the fields the checks refuse (three rounds)."""
    wanted = [name for name, value in values.items() if value is None]
    for _round in range(3):
        for name in wanted:
            if not interactive:
                fail(f"--{name.replace('_', '-')} is required with --no-input.")
            text, hidden = _PROMPTS[name]
            values[name] = str(typer.prompt(text, hide_input=hidden))
        body = {name: value for name, value in values.items() if value is not None}
        if api_token:
            body["api_token"] = api_token
        try:
            return parse_link_form(body)
        except LinkInputError as exc:
            for problem in exc.problems:
                err_console.print(f"[red]{problem.field}:[/] {problem.message}")
            wanted = [p.field for p in exc.problems if p.field in _PROMPTS]
            if not interactive or not wanted:
                raise typer.Exit(1) from None
    fail("Too many attempts.")


async def _link(settings: Settings, key: str, form: LinkForm, target: LinkTarget) -> LinkOutcome:
    async with open_runtime(settings) as runtime:
        integration = get_integration(runtime.integrations, key)
        outcome = await runtime.accounts.link(form, integration=integration, target=target)
        # The process ends right after: give the webhook receiver time to answer.
        await runtime.webhooks.drain(grace=30)
        return outcome
