"""The engine's reactions to connection events: a linked connection starts its default syncs, a
deleted one has its runs cancelled (its records and sync states go with its row)."""

from __future__ import annotations

import structlog

from billbridge.connections.events import ConnectionDeleted, ConnectionLinked, Events
from billbridge.sync.engine import SyncEngine

log = structlog.get_logger(__name__)


def follow_connections(events: Events, engine: SyncEngine) -> None:
    """Subscribe ``engine`` to the connection events it acts on."""

    async def linked(event: ConnectionLinked) -> None:
        queued = await engine.start_defaults(event.connection)
        log.info("sync_defaults_started", connection_pk=event.connection.pk, syncs=len(queued))

    async def deleted(event: ConnectionDeleted) -> None:
        cancelled = await engine.stop_connection(event.connection.pk)
        log.info("sync_runs_cancelled", connection_pk=event.connection.pk, runs=cancelled)

    events.subscribe(ConnectionLinked, linked)
    events.subscribe(ConnectionDeleted, deleted)
