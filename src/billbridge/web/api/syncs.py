"""The sync API: trigger, start, pause, status, frequency (nango-compat §2 row 9, §3).

Routes change the stored schedule (start, pause, frequency) and ask the sync engine for runs
(trigger); the engine's scheduler reads the schedule. Answers are Nango's: ``{success: true}``,
``{syncs: [...]}`` and ``{frequency}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from billbridge.errors import ValidationError
from billbridge.runtime import Runtime
from billbridge.store import Frequency, parse_frequency
from billbridge.store.record_counts import live_record_counts
from billbridge.web.deps import SECRET_KEY_GUARDS, RuntimeDep
from billbridge.web.errors import ApiError, issue
from billbridge.web.openapi import INTEGRATION_KEY, errors, ok, operation, query
from billbridge.web.responses import FrequencyOut, Success, SyncStatusList
from billbridge.web.sync_selection import (
    SyncRef,
    check_integration,
    find_connection,
    select_syncs,
    sync_names,
    sync_status,
)
from billbridge.web.validation import parse_body, read_json, required, strict_query

router = APIRouter(tags=["syncs"], dependencies=SECRET_KEY_GUARDS)

Key = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9~:.@ _-]+$", max_length=255)]
ConnectionId = Annotated[
    str, StringConstraints(pattern=r"""^[a-zA-Z0-9,.;:=+~\[\]|@${}"'\\/_ -]+$""", max_length=255)
]
SyncName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]+$", max_length=255)]


class SyncControl(Protocol):
    """What the routes need of the sync engine."""

    @property
    def can_run(self) -> bool:
        """Whether this process can queue runs."""

    async def wake(self) -> None:
        """Make sure the engine runs (it may wait for a first sync before launching)."""

    async def trigger(
        self, connection_pk: int, names: Iterable[str], *, full: bool = False
    ) -> Sequence[object]:
        """Queue a run of each named sync of the connection (one at a time per sync)."""

    def default_frequency(self, name: str, integration: str | None = None) -> Frequency:
        """How often ``name`` runs for ``integration``'s connections that have not chosen otherwise."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TriggerOpts(BaseModel):
    reset: bool | None = None
    emptyCache: bool | None = None


# Nango bounds start and pause at 256 syncs; billbridge has 25, so trigger and status get the same.
MAX_SYNCS = 256


class TriggerBody(_Strict):
    syncs: list[str | SyncRef] = Field(max_length=MAX_SYNCS)
    sync_mode: Literal["incremental", "full_refresh", "full_refresh_and_clear_cache"] | None = None
    full_resync: bool | None = None
    connection_id: str | None = None
    provider_config_key: str | None = None
    opts: TriggerOpts | None = None


class ScheduleBody(_Strict):
    syncs: list[str | SyncRef] = Field(max_length=MAX_SYNCS)
    provider_config_key: Key
    connection_id: ConnectionId | None = None


class FrequencyBody(_Strict):
    sync_name: SyncName
    sync_variant: SyncName | None = None
    provider_config_key: Key
    connection_id: ConnectionId
    frequency: str | None


def _engine(services: Runtime) -> SyncControl:
    """The sync engine, if this process runs one (a server always does)."""
    engine: SyncControl = services.syncs
    if not engine.can_run:
        raise ApiError(503, "syncs_unavailable", "This process runs no sync engine; use billbridge serve.")
    return engine


@router.post(
    "/sync/trigger",
    response_model=None,
    responses={**ok(Success, "The runs are queued."), **errors(400, 401, 404, 413, 415, 503)},
    openapi_extra=operation(body=TriggerBody, body_required=True),
)
async def trigger(request: Request, services: RuntimeDep) -> dict[str, Any]:
    """Run syncs now: incremental, or a full refresh (``opts.reset`` or the legacy ``sync_mode``)."""
    strict_query(request)
    body = parse_body(TriggerBody, await read_json(request, empty={}))
    key = body.provider_config_key or request.headers.get("provider-config-key")
    if not key:
        raise ApiError(
            400,
            "missing_provider_config_key",
            "Missing provider_config_key. Provide it in the body or headers.",
        )
    connection_id = body.connection_id or request.headers.get("connection-id") or None
    if body.opts is not None and (body.sync_mode is not None or body.full_resync is not None):
        raise ApiError(
            400, "invalid_body", "Cannot use opts with deprecated sync_mode/full_resync parameters"
        )
    if body.opts is not None:
        # As Nango: emptyCache empties the records only for a reset (a full refresh).
        full = bool(body.opts.reset)
        clear = full and bool(body.opts.emptyCache)
    else:
        full = body.sync_mode in {"full_refresh", "full_refresh_and_clear_cache"} or (
            body.sync_mode is None and bool(body.full_resync)
        )
        clear = body.sync_mode == "full_refresh_and_clear_cache"
    engine = _engine(services)
    states = await select_syncs(services, key, connection_id, body.syncs)
    by_connection: dict[int, list[str]] = {}
    for state in states:
        if clear:
            await services.records.delete_model_records(state.connection_pk, state.model)
        by_connection.setdefault(state.connection_pk, []).append(state.name)
    for connection_pk, names in by_connection.items():
        await engine.trigger(connection_pk, names, full=full or clear)
    return {"success": True}


@router.post(
    "/sync/start",
    response_model=None,
    responses={**ok(Success, "The schedules run again."), **errors(400, 401, 404, 413, 415)},
    openapi_extra=operation(body=ScheduleBody, body_required=True),
)
async def start(request: Request, services: RuntimeDep) -> dict[str, Any]:
    """Resume the schedule of syncs (a sync overdue while paused runs at the next tick)."""
    return await _schedule(request, services, enabled=True)


@router.post(
    "/sync/pause",
    response_model=None,
    responses={**ok(Success, "The schedules are paused."), **errors(400, 401, 404, 413, 415)},
    openapi_extra=operation(body=ScheduleBody, body_required=True),
)
async def pause(request: Request, services: RuntimeDep) -> dict[str, Any]:
    """Pause the schedule of syncs (a run in progress finishes)."""
    return await _schedule(request, services, enabled=False)


async def _schedule(request: Request, services: Runtime, *, enabled: bool) -> dict[str, Any]:
    strict_query(request)
    body = parse_body(ScheduleBody, await read_json(request, empty={}))
    states = await select_syncs(services, body.provider_config_key, body.connection_id, body.syncs)
    by_connection: dict[int, list[str]] = {}
    for state in states:
        by_connection.setdefault(state.connection_pk, []).append(state.name)
    for connection_pk, names in by_connection.items():
        await services.sync_states.set_enabled(connection_pk, names, enabled=enabled)
    if enabled and by_connection:
        # An embedded server with no sync on so far has not launched its engine: the tick needs it.
        await services.syncs.wake()
    return {"success": True}


@router.get(
    "/sync/status",
    response_model=None,
    responses={**ok(SyncStatusList, "The syncs' status."), **errors(400, 401, 404, 415)},
    openapi_extra=operation(
        parameters=[
            query("syncs", "Comma-separated sync names, or * for all.", required=True),
            query("provider_config_key", "The integration.", required=True, schema=INTEGRATION_KEY),
            query("connection_id", "Only this connection."),
        ]
    ),
)
async def status(request: Request, services: RuntimeDep) -> dict[str, Any]:
    """The status of syncs (``syncs=*`` for all) of one connection or of every connection."""
    q = strict_query(request, {"syncs", "provider_config_key", "connection_id"})
    syncs = required(q, "syncs")
    key = required(q, "provider_config_key")
    check_integration(services, key)
    listed = [s for s in syncs.split(",") if s]
    if len(listed) > MAX_SYNCS:
        raise ApiError(400, "invalid_query_params", f"syncs may name at most {MAX_SYNCS} syncs.")
    names = None if syncs == "*" else sync_names(listed)
    connection_pk = None
    if q.get("connection_id"):
        conn = await services.connections.get(q["connection_id"], key)
        if conn is None:
            raise ApiError(400, "invalid_body", "Connection not found")
        connection_pk = conn.pk
    if syncs != "*" and not names:
        return {"syncs": []}
    found = await services.sync_states.list(connection_pk=connection_pk, provider_config_key=key, names=names)
    counts: dict[int, dict[str, int]] = {}
    for pk in {state.connection_pk for state in found}:
        counts[pk] = await live_record_counts(services.db, pk)
    return {"syncs": [sync_status(state, counts[state.connection_pk]) for state in found]}


@router.put(
    "/sync/update-connection-frequency",
    response_model=None,
    responses={**ok(FrequencyOut, "The frequency now in force."), **errors(400, 401, 404, 413, 415)},
    openapi_extra=operation(body=FrequencyBody, body_required=True),
)
async def update_frequency(request: Request, services: RuntimeDep) -> dict[str, Any]:
    """Set how often one sync of one connection runs (``null``: back to the default)."""
    strict_query(request)
    body = parse_body(FrequencyBody, await read_json(request, empty={}))
    conn = await find_connection(services, body.connection_id, body.provider_config_key, status=400)
    state = await services.sync_states.get(conn.pk, body.sync_name)
    if state is None or (body.sync_variant or "base") != "base":
        raise ApiError(400, "unknown_sync", f"The connection has no sync {body.sync_name!r}.")
    if body.frequency is None:
        every = services.syncs.default_frequency(body.sync_name, body.provider_config_key)
    else:
        try:
            every = parse_frequency(body.frequency)
        except ValidationError as exc:
            raise ApiError(
                400, "invalid_body", "Sync interval is invalid", errors=[issue(["frequency"], exc.message)]
            ) from None
    await services.sync_states.set_frequency(conn.pk, body.sync_name, every.text, every.seconds)
    if state.finished_at is not None:
        # The next run follows the new frequency from the last one.
        await services.sync_states.set_next_scheduled(
            conn.pk, body.sync_name, state.finished_at + timedelta(seconds=every.seconds)
        )
    return {"frequency": every.interval}
