"""``billbridge sync status [CONNECTION]``: how each sync stands, straight from the database."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from billbridge.cli._output import console
from billbridge.cli.connections import IntegrationOption, Store, run
from billbridge.cli.sync_run import sync_app
from billbridge.store import SyncState, SyncStateRepository
from billbridge.store.record_counts import live_record_counts

_STATUS_STYLE = {"SUCCESS": "green", "RUNNING": "cyan", "PAUSED": "yellow", "ERROR": "red", "STOPPED": "red"}


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def state_summary(state: SyncState, records: int) -> dict[str, Any]:
    """What the command shows of a sync (no secrets: errors are stored without them)."""
    result = state.latest_result
    return {
        "connection_id": state.connection_id,
        "provider_config_key": state.provider_config_key,
        "sync": state.name,
        "model": state.model,
        "status": state.reported_status,
        "type": state.sync_type,
        "frequency": state.frequency,
        "finished_at": _when(state.finished_at),
        "next_run_at": _when(state.next_scheduled_at),
        "latest_result": result.as_dict() if result is not None else None,
        "records": records,
        "checkpoint": state.checkpoint,
        "last_error": state.last_error,
    }


async def _summaries(store: Store, connection_id: str | None, integration: str) -> list[dict[str, Any]]:
    states = SyncStateRepository(store.db)
    if connection_id is None:
        found = await states.list()
    else:
        conn = await store.repo.get(connection_id, integration)
        if conn is None:
            return []
        found = await states.list(connection_pk=conn.pk)
    counts: dict[int, dict[str, int]] = {}
    for pk in {state.connection_pk for state in found}:
        counts[pk] = await live_record_counts(store.db, pk)
    return [state_summary(s, counts[s.connection_pk].get(s.model, 0)) for s in found]


@sync_app.command("status")
def status(
    connection_id: Annotated[
        str | None, typer.Argument(help="A connection id (default: every connection).")
    ] = None,
    integration: IntegrationOption = "bill-sandbox",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show each sync: status, last and next run, what the last run changed, records stored."""
    found = run(lambda store: _summaries(store, connection_id, integration))
    if as_json:
        console.print_json(json.dumps(found))
        return
    if not found:
        where = f" for connection {connection_id!r}" if connection_id else ""
        console.print(f"No syncs{where} yet: a linked connection gets its default syncs.")
        return
    table = Table(title=f"{len(found)} sync(s)")
    for column in (
        "Connection",
        "Sync",
        "Status",
        "Type",
        "Every",
        "Finished",
        "Next run",
        "Last run",
        "Records",
    ):
        table.add_column(column, overflow="fold")
    for item in found:
        style = _STATUS_STYLE.get(item["status"], "white")
        result = item["latest_result"]
        changed = f"+{result['added']} ~{result['updated']} -{result['deleted']}" if result else "-"
        status_text = f"[{style}]{item['status']}[/]"
        if item["last_error"]:
            status_text += f"\n{item['last_error']}"
        table.add_row(
            item["connection_id"],
            f"{item['sync']} ({item['model']})",
            status_text,
            item["type"],
            item["frequency"],
            item["finished_at"],
            item["next_run_at"],
            changed,
            str(item["records"]),
        )
    console.print(table)
