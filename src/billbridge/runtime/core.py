"""``open_runtime``: the database, BILL clients, keeper, proxy, events and their subscribers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from billbridge.connections import (
    Accounts,
    BillClients,
    Events,
    Integration,
    Proxy,
    SecretKeys,
    SessionKeeper,
    SigningKey,
    SyncWebhooks,
    TransportFactory,
    WebhookSender,
    integrations_from_settings,
    limits_for_database,
    record_operations,
    send_auth_webhooks,
)
from billbridge.connections.idempotency import IdempotentRequests
from billbridge.runtime.metrics import Metrics, limits_reader
from billbridge.runtime.syncs import SyncRole, build_sync_engine
from billbridge.settings import Settings
from billbridge.store import (
    ApiKeyRepository,
    ConnectionRepository,
    ConnectSessionRepository,
    Database,
    IdempotencyRepository,
    Keyring,
    OperationRepository,
    RecordRepository,
    SyncStateRepository,
    open_keyring,
)
from billbridge.store.notifications import deletions_listened
from billbridge.sync import SyncEngine

log = structlog.get_logger(__name__)


@dataclass(eq=False)
class Runtime:
    """The services of one process, built by :func:`open_runtime`; nothing here is HTTP."""

    settings: Settings
    db: Database
    keyring: Keyring
    connections: ConnectionRepository
    api_keys: ApiKeyRepository
    connect_sessions: ConnectSessionRepository
    operations: OperationRepository
    records: RecordRepository
    sync_states: SyncStateRepository
    sync_webhooks: SyncWebhooks
    integrations: dict[str, Integration]
    clients: BillClients
    events: Events
    keeper: SessionKeeper
    accounts: Accounts
    proxy: Proxy
    idempotency: IdempotentRequests
    webhooks: WebhookSender
    signing_key: SigningKey
    secret_keys: SecretKeys
    syncs: SyncEngine
    metrics: Metrics
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def public_url(self) -> str:
        return str(self.settings.public_url).rstrip("/")


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    transport_factory: TransportFactory | None = None,
    sync_role: SyncRole = "none",
    executor_id: str | None = None,
) -> AsyncIterator[Runtime]:
    """Open the database and build every service; on exit, let background work finish and close all.

    Args:
        settings: the configuration.
        transport_factory: makes the BILL transport per integration (tests: the in-process simulator).
        sync_role: ``api`` (serve: runs syncs itself on SQLite, queues them on PostgreSQL),
            ``worker`` (runs syncs), ``none`` (CLI commands: DBOS is not launched).
        executor_id: this process's DBOS executor id (a restarted worker resumes its runs).
    """
    async with AsyncExitStack() as stack:
        db = await Database.open(settings)
        stack.push_async_callback(db.close)
        keyring = await open_keyring(settings, db)
        api_keys = ApiKeyRepository(db, keyring)
        if settings.secret_key is not None:
            await api_keys.ensure_secret_key(settings.secret_key)
        stored_key = settings.secret_key or await api_keys.secret_key()
        connections = ConnectionRepository(db, keyring)
        operations = OperationRepository(db)
        integrations = integrations_from_settings(settings)
        # Every BILL request of this process takes its slot and budget unit here. On PostgreSQL
        # several processes may serve one organization: slots and hourly budgets are held across
        # them (advisory locks, the budgets table); alone on SQLite in-process limits suffice.
        limits = limits_for_database(db)
        stack.push_async_callback(limits.aclose)
        clients = BillClients(integrations, transport_factory=transport_factory, limits=limits)
        stack.push_async_callback(clients.aclose)
        events = Events()
        keeper = SessionKeeper(connections, clients, events=events)
        stack.push_async_callback(keeper.aclose)
        # A connection deleted by another process leaves this one's cache at once.
        await stack.enter_async_context(deletions_listened(db, keeper.forget))
        proxy = Proxy(keeper, clients)
        signing_key = SigningKey(configured=settings.webhook_signing_key, api_key=stored_key)
        webhooks = WebhookSender(
            url=str(settings.webhook_url) if settings.webhook_url else None, signing_key=signing_key
        )
        # Closed after the logouts below: their events may still queue webhooks.
        stack.push_async_callback(webhooks.aclose)
        accounts = Accounts(connections, clients, keeper, events, link_deadline=settings.link_timeout_seconds)
        stack.push_async_callback(accounts.drain)
        send_auth_webhooks(events, webhooks)
        records = RecordRepository(db)
        sync_states = SyncStateRepository(db)
        sync_webhooks = SyncWebhooks(connections, sync_states, webhooks)
        syncs = build_sync_engine(
            settings,
            sync_role,
            connections=connections,
            keeper=keeper,
            clients=clients,
            events=events,
            records=records,
            states=sync_states,
            webhook=sync_webhooks.send,
            executor_id=executor_id,
            integrations=integrations,
        )
        record_operations(events, operations)
        metrics = Metrics(limits_reader(connections, clients.limits))
        metrics.subscribe(events)
        runtime = Runtime(
            settings=settings,
            db=db,
            keyring=keyring,
            connections=connections,
            api_keys=api_keys,
            connect_sessions=ConnectSessionRepository(db, keyring),
            operations=operations,
            records=records,
            sync_states=sync_states,
            sync_webhooks=sync_webhooks,
            integrations=integrations,
            clients=clients,
            events=events,
            keeper=keeper,
            accounts=accounts,
            proxy=proxy,
            idempotency=IdempotentRequests(IdempotencyRepository(db, keyring)),
            webhooks=webhooks,
            signing_key=signing_key,
            secret_keys=SecretKeys(api_keys.verify, on_verified=signing_key.learn),
            syncs=syncs,
            metrics=metrics,
        )
        # Launched last and stopped first: its runs use every service above.
        await syncs.start()
        stack.push_async_callback(syncs.stop)
        log.info("runtime_ready", database="postgresql" if db.is_postgres else "sqlite")
        yield runtime
