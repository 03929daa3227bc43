"""``billbridge connections list|show|delete``: the linked accounts, straight from the database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from billbridge.cli import app
from billbridge.cli._output import console, fail, load_settings
from billbridge.errors import BillbridgeError
from billbridge.runtime import open_runtime
from billbridge.settings import Settings
from billbridge.store import Connection, ConnectionRepository, Database, Keyring

T = TypeVar("T")

connections_app = typer.Typer(help="List, show and delete linked BILL accounts.", no_args_is_help=True)
app.add_typer(connections_app, name="connections")

IntegrationOption = Annotated[
    str, typer.Option("--integration", "-i", help="The integration: bill or bill-sandbox.")
]


@dataclass(frozen=True, slots=True)
class Store:
    """The database handles a command needs."""

    db: Database
    repo: ConnectionRepository


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    """Open the configured database and the connection repository."""
    db = await Database.open(settings)
    try:
        yield Store(db=db, repo=ConnectionRepository(db, Keyring.from_settings(settings)))
    finally:
        await db.close()


def run(work: Callable[[Store], Awaitable[T]]) -> T:
    """Run ``work`` against the store; billbridge errors become a clear exit."""
    settings = load_settings()

    async def main() -> T:
        async with open_store(settings) as store:
            return await work(store)

    try:
        return asyncio.run(main())
    except BillbridgeError as exc:
        fail(exc.message)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def _end_user(conn: Connection) -> str:
    user = conn.end_user or {}
    return str(user.get("email") or user.get("display_name") or user.get("id") or "-")


@connections_app.command("list")
def list_connections(
    integration: Annotated[
        str | None, typer.Option("--integration", "-i", help="Only this integration.")
    ] = None,
    search: Annotated[str | None, typer.Option(help="Part of the connection id or end user.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List linked accounts, newest first (never any secret)."""
    found = run(
        lambda store: store.repo.list(integration_ids=[integration] if integration else None, search=search)
    )
    if as_json:
        console.print_json(json.dumps([summary(conn) for conn in found]))
        return
    if not found:
        console.print("No connections yet. Link one with [bold]billbridge link[/].")
        return
    table = Table(title=f"{len(found)} connection(s)")
    for column in (
        "Connection ID",
        "Integration",
        "Status",
        "BILL user",
        "Organization",
        "End user",
        "Created",
    ):
        table.add_column(column, overflow="fold")
    for conn in found:
        status = "[green]ok[/]" if conn.status == "ok" else f"[red]{conn.status}[/]"
        table.add_row(
            conn.connection_id,
            conn.provider_config_key,
            status,
            conn.credentials.username,
            conn.credentials.organization_id,
            _end_user(conn),
            _when(conn.created_at),
        )
    console.print(table)


def summary(conn: Connection) -> dict[str, Any]:
    """What the commands show of a connection: identifiers, state and times, no secrets."""
    session = conn.session
    return {
        "connection_id": conn.connection_id,
        "provider_config_key": conn.provider_config_key,
        "environment": conn.environment,
        "status": conn.status,
        "last_error": conn.last_error,
        "username": conn.credentials.username,
        "organization_id": conn.credentials.organization_id,
        "has_api_token": conn.credentials.api_token is not None,
        "end_user": conn.end_user,
        "tags": conn.tags,
        "metadata": conn.metadata,
        "session": {
            "present": session.is_present,
            "user_id": session.user_id,
            "trusted": session.trusted,
            "started_at": _when(session.started_at),
            "last_used_at": _when(session.last_used_at),
        },
        "created_at": _when(conn.created_at),
        "updated_at": _when(conn.updated_at),
        "last_fetched_at": _when(conn.last_fetched_at),
    }


async def _get(store: Store, connection_id: str, integration: str) -> Connection:
    conn = await store.repo.get(connection_id, integration)
    if conn is None:
        fail(f"No connection {connection_id!r} for the integration {integration!r}.")
    return conn


@connections_app.command("show")
def show(
    connection_id: Annotated[str, typer.Argument(help="The connection id.")],
    integration: IntegrationOption = "bill-sandbox",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show one connection: status, BILL user and organization, session state (no secrets)."""
    conn = run(lambda store: _get(store, connection_id, integration))
    facts = summary(conn)
    if as_json:
        console.print_json(json.dumps(facts))
        return
    table = Table(show_header=False, title=f"Connection {conn.connection_id}")
    table.add_column("Field", style="bold")
    table.add_column("Value", overflow="fold")
    for key, value in facts.items():
        shown = (
            json.dumps(value) if isinstance(value, dict | list) else str(value if value is not None else "-")
        )
        table.add_row(key, shown)
    console.print(table)


@connections_app.command("delete")
def delete(
    connection_id: Annotated[str, typer.Argument(help="The connection id.")],
    integration: IntegrationOption = "bill-sandbox",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a connection and end its BILL session."""
    if not yes:
        typer.confirm(f"Delete connection {connection_id!r} ({integration})?", abort=True)
    try:
        asyncio.run(_delete(load_settings(), connection_id, integration))
    except BillbridgeError as exc:
        fail(exc.message)
    console.print(f"Deleted connection {connection_id} ({integration}).")


async def _delete(settings: Settings, connection_id: str, integration: str) -> None:
    # Through the runtime, so the deletion is logged and BILL is told to end the session.
    async with open_runtime(settings) as runtime:
        conn = await runtime.connections.get(connection_id, integration)
        if conn is None:
            fail(f"No connection {connection_id!r} for the integration {integration!r}.")
        await runtime.accounts.delete(conn)
