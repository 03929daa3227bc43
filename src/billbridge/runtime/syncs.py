"""The sync engine's place in a running process: which role it has, and its start and stop.

``serve`` runs syncs itself on SQLite (the embedded default); on PostgreSQL it only queues them
and ``billbridge worker`` processes run them. CLI commands that only link or delete connections do
not launch DBOS: a new connection then only gets its sync states, which the next tick of a
running server or worker starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from billbridge.connections import BillClients, Events, Integration, SessionKeeper
from billbridge.errors import ConfigurationError, ValidationError
from billbridge.settings import Settings
from billbridge.store import ConnectionRepository, RecordRepository, SyncStateRepository
from billbridge.sync import DbosOptions, PageFetcher, StepContext, SyncEngine, SyncPlan, default_executor_id
from billbridge.sync.notify import WebhookSend
from billbridge.sync.reactions import follow_connections

SyncRole = Literal["api", "worker", "none"]


def dbos_options(settings: Settings, role: SyncRole, *, executor_id: str | None = None) -> DbosOptions | None:
    """How this process runs DBOS for ``role`` (None: it does not launch DBOS)."""
    if role == "none":
        return None
    if role == "worker":
        return DbosOptions.from_settings(settings, executor_id=executor_id or default_executor_id("worker"))
    runs = settings.syncs_in_api == "on" or (settings.syncs_in_api == "auto" and settings.is_sqlite)
    # Alone on SQLite the server is "local"; API processes on PostgreSQL get an id of their own.
    executor = executor_id or (
        "local" if settings.is_sqlite else f"{default_executor_id('api')}-{os.getpid()}"
    )
    return DbosOptions.from_settings(settings, run_syncs=runs, executor_id=executor)


def build_sync_engine(
    settings: Settings,
    role: SyncRole,
    *,
    connections: ConnectionRepository,
    keeper: SessionKeeper,
    clients: BillClients,
    events: Events,
    records: RecordRepository,
    states: SyncStateRepository,
    webhook: WebhookSend | None = None,
    executor_id: str | None = None,
    integrations: Mapping[str, Integration] | None = None,
) -> SyncEngine:
    """The engine of this process, subscribed to connection events (started by the caller).

    ``webhook`` sends a run's ``sync`` webhook (the engine delivers it as a durable workflow).
    ``integrations`` give each integration's plan for its new connections (its
    ``sync_defaults``); the global ``BILLBRIDGE_SYNC_DEFAULTS`` is the plan of any other.

    Raises:
        ConfigurationError: a sync defaults setting names an unknown sync or a bad frequency.
    """
    plan = _plan(settings.sync_defaults, "BILLBRIDGE_SYNC_DEFAULTS")
    plans = {
        key: _plan(integration.sync_defaults, f"BILLBRIDGE_{key.upper().replace('-', '_')}_SYNC_DEFAULTS")
        for key, integration in (integrations or {}).items()
    }
    context = StepContext(
        fetcher=PageFetcher(connections=connections, keeper=keeper, clients=clients),
        records=records,
        states=states,
        webhook=webhook,
    )
    engine = SyncEngine(
        context, dbos_options(settings, role, executor_id=executor_id), plan=plan, plans=plans
    )
    follow_connections(events, engine)
    return engine


def _plan(text: str, variable: str) -> SyncPlan:
    try:
        return SyncPlan.parse(text, field=variable)
    except ValidationError as exc:
        raise ConfigurationError(exc.message) from None
