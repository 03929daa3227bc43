"""``billbridge records CONNECTION MODEL [--limit N]``: a connection's synced records, oldest change first."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from billbridge.cli import app
from billbridge.cli._output import console, fail
from billbridge.cli.connections import IntegrationOption, Store, run
from billbridge.store import RecordRepository
from billbridge.store.record_pages import MAX_LIMIT

_ACTION_STYLE = {"ADDED": "green", "UPDATED": "cyan", "DELETED": "red"}
# Payload fields worth a column when a record has them (BILL's usual names).
_LABELS = ("name", "invoiceNumber", "vendorName", "customerName", "email", "amount", "status")


async def _records(
    store: Store, connection_id: str, model: str, integration: str, limit: int
) -> list[dict[str, Any]] | None:
    conn = await store.repo.get(connection_id, integration)
    if conn is None:
        return None
    page = await RecordRepository(store.db).list(conn.pk, model, limit=limit)
    return page.records()


@app.command("records")
def records(
    connection_id: Annotated[str, typer.Argument(help="The connection id.")],
    model: Annotated[str, typer.Argument(help="The model, e.g. Vendor, Bill, ChartOfAccount.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=MAX_LIMIT, help="How many records.")] = 20,
    integration: IntegrationOption = "bill-sandbox",
    as_json: Annotated[bool, typer.Option("--json", help="Print the records as JSON.")] = False,
) -> None:
    """Show a connection's synced records of one model, as GET /records serves them."""
    found = run(lambda store: _records(store, connection_id, model, integration, limit))
    if found is None:
        fail(f"No connection {connection_id!r} for the integration {integration!r}.")
    if as_json:
        console.print_json(json.dumps(found))
        return
    if not found:
        console.print(f"No {model} records for connection {connection_id!r} yet.")
        return
    table = Table(title=f"{len(found)} {model} record(s), oldest change first")
    for column in ("ID", "Last action", "Last modified", "Summary"):
        table.add_column(column, overflow="fold")
    for record in found:
        meta = record["_nango_metadata"]
        action = meta["last_action"]
        table.add_row(
            str(record["id"]),
            f"[{_ACTION_STYLE.get(action, 'white')}]{action}[/]",
            meta["last_modified_at"],
            _summary(record),
        )
    console.print(table)


def _summary(record: dict[str, Any]) -> str:
    parts = [f"{key}={record[key]}" for key in _LABELS if record.get(key) not in (None, "")]
    return ", ".join(parts) or "-"
