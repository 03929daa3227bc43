"""Which syncs a sync API call is about, and how a sync's status is shown (nango-compat §3).

Nango names a sync ``name`` or ``name::variant`` (or ``{name, variant}``); billbridge has only the
``base`` variant. A call names an integration and optionally a connection: without a connection
it is about every connection of the integration that has the named syncs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from billbridge.runtime import Runtime
from billbridge.store import Connection, SyncState
from billbridge.web.errors import ApiError
from billbridge.web.formatters import timestamp

BASE: Final = "base"
# A fixed namespace: a sync's public id is stable for the life of its state row.
_IDS: Final = uuid.UUID("5b0c1e6a-9d2f-4c37-8a41-3f1e2d7c9b10")


class SyncRef(BaseModel):
    """``{name, variant}`` as the SDK sends a sync with a variant."""

    model_config = ConfigDict(extra="forbid")
    name: str
    variant: str


def sync_names(syncs: Sequence[str | SyncRef]) -> list[str] | None:
    """The base-variant names of ``syncs``; None when one names another variant (no such sync)."""
    names = []
    for sync in syncs:
        name, variant = (sync.name, sync.variant) if isinstance(sync, SyncRef) else _split(sync)
        if variant != BASE:
            return None
        names.append(name)
    return names


def _split(text: str) -> tuple[str, str]:
    name, sep, variant = text.partition("::")
    return name, (variant if sep else BASE)


def check_integration(services: Runtime, key: str) -> None:
    """400 ``unknown_provider_config`` unless ``key`` is a configured integration."""
    if key not in services.integrations:
        raise ApiError(
            400,
            "unknown_provider_config",
            f"There is no Provider Configuration matching the key {key!r}; use 'bill' or 'bill-sandbox'.",
        )


async def find_connection(services: Runtime, connection_id: str, key: str, *, status: int) -> Connection:
    """The connection, or ``status`` ``unknown_connection``."""
    conn = await services.connections.get(connection_id, key)
    if conn is None:
        raise ApiError(
            status,
            "unknown_connection",
            f"No connection {connection_id!r} exists for the integration {key!r}.",
        )
    return conn


async def select_syncs(
    services: Runtime, key: str, connection_id: str | None, syncs: Sequence[str | SyncRef]
) -> list[SyncState]:
    """The sync states a start/pause/trigger call acts on, as Nango's ``runSyncCommand`` picks them.

    With a connection: the named syncs of it (all of its syncs when none are named), each of which
    must exist; without: the named syncs of every connection of the integration, at least one.

    Raises:
        ApiError: 400 ``unknown_provider_config``, 404 ``unknown_connection``, 400 ``no_syncs_found``.
    """
    check_integration(services, key)
    names = sync_names(syncs)
    if connection_id is not None:
        conn = await find_connection(services, connection_id, key, status=404)
        found = await services.sync_states.list(connection_pk=conn.pk, names=names or None)
        if names is None or (names and {s.name for s in found} != set(names)):
            raise _no_syncs(names)
        return found
    found = (
        [] if names is None else await services.sync_states.list(provider_config_key=key, names=names or None)
    )
    if not found:
        raise _no_syncs(names)
    return found


def _no_syncs(names: list[str] | None) -> ApiError:
    asked = ", ".join(names or []) or "the given variant"
    return ApiError(400, "no_syncs_found", f"No syncs found given the inputs ({asked}).")


def public_id(state: SyncState) -> str:
    """A UUID for the sync, as Nango's are: stable for the life of its state (a sync removed and
    created again gets a new one)."""
    identity = (state.provider_config_key, state.connection_id, state.name, state.created_at.isoformat())
    return str(uuid.uuid5(_IDS, "\n".join(identity)))


def sync_status(state: SyncState, record_counts: dict[str, int]) -> dict[str, Any]:
    """One entry of ``GET /sync/status`` (the SDK's ``SyncStatus``)."""
    ran = state.finished_at is not None or state.status == "RUNNING"
    result = state.latest_result
    return {
        "id": public_id(state),
        "connection_id": state.connection_id,
        "type": state.sync_type if ran else "INITIAL",
        "finishedAt": timestamp(state.finished_at) if state.status != "RUNNING" else None,
        "nextScheduledSyncAt": timestamp(state.next_scheduled_at),
        "name": state.name,
        "variant": BASE,
        "status": state.reported_status,
        "frequency": state.frequency,
        "latestResult": {state.model: result.as_dict()} if result is not None else None,
        "latestExecutionStatus": state.status if ran else None,
        "recordCount": {state.model: record_counts.get(state.model, 0)},
        "checkpoint": state.checkpoint,
    }
