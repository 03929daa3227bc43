"""Everything a running API needs (database, repositories, BILL clients, keeper, proxy, webhooks)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from billbridge.connections import (
    BillClients,
    InFlightLeases,
    Integration,
    Proxy,
    SessionKeeper,
    SigningKey,
    TransportFactory,
    WebhookSender,
    integrations_from_settings,
)
from billbridge.settings import Settings
from billbridge.store import (
    ApiKeyRepository,
    ConnectionRepository,
    ConnectSessionRepository,
    Database,
    Keyring,
    OperationRepository,
)
from billbridge.web.keys import SecretKeyCheck

log = structlog.get_logger(__name__)


@dataclass(eq=False)
class Services:
    """The app's resources, built by :func:`open_services` and kept in ``app.state.services``."""

    settings: Settings
    db: Database
    keyring: Keyring
    connections: ConnectionRepository
    api_keys: ApiKeyRepository
    connect_sessions: ConnectSessionRepository
    operations: OperationRepository
    integrations: dict[str, Integration]
    clients: BillClients
    keeper: SessionKeeper
    proxy: Proxy
    webhooks: WebhookSender
    signing_key: SigningKey
    secret_keys: SecretKeyCheck
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # (connection pk, session generation) pairs whose refresh failure was already reported.
    refresh_failures_sent: set[tuple[int, int]] = field(default_factory=set)
    # Fire-and-forget work (BILL logouts after a delete), awaited on shutdown.
    background: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def public_url(self) -> str:
        return str(self.settings.public_url).rstrip("/")


@asynccontextmanager
async def open_services(
    settings: Settings, *, transport_factory: TransportFactory | None = None
) -> AsyncIterator[Services]:
    """Open the database and build every service; close them all on exit.

    Args:
        settings: the configuration.
        transport_factory: makes the BILL transport per integration (tests: the in-process simulator).
    """
    db = await Database.open(settings)
    clients: BillClients | None = None
    webhooks: WebhookSender | None = None
    keeper: SessionKeeper | None = None
    proxy: Proxy | None = None
    try:
        keyring = Keyring.from_settings(settings)
        api_keys = ApiKeyRepository(db, keyring)
        if settings.secret_key is not None:
            await api_keys.ensure_secret_key(settings.secret_key)
        stored_key = settings.secret_key or await api_keys.secret_key()
        connections = ConnectionRepository(db, keyring)
        integrations = integrations_from_settings(settings)
        clients = BillClients(integrations, transport_factory=transport_factory)
        keeper = SessionKeeper(connections, clients)
        # On PostgreSQL several processes may serve one organization: hold BILL's in-flight limit
        # across them with advisory locks; alone on SQLite the in-process limit suffices.
        proxy = Proxy(keeper, clients, leases=InFlightLeases.for_database(db))
        signing_key = SigningKey(configured=settings.webhook_signing_key, api_key=stored_key)
        webhooks = WebhookSender(
            url=str(settings.webhook_url) if settings.webhook_url else None, signing_key=signing_key
        )
        services = Services(
            settings=settings,
            db=db,
            keyring=keyring,
            connections=connections,
            api_keys=api_keys,
            connect_sessions=ConnectSessionRepository(db, keyring),
            operations=OperationRepository(db),
            integrations=integrations,
            clients=clients,
            keeper=keeper,
            proxy=proxy,
            webhooks=webhooks,
            signing_key=signing_key,
            secret_keys=SecretKeyCheck(api_keys.verify, on_verified=signing_key.learn),
        )
        log.info("api_ready", database="postgresql" if db.is_postgres else "sqlite")
        try:
            yield services
        finally:
            if services.background:
                await asyncio.wait(set(services.background), timeout=10)
    finally:
        if webhooks is not None:
            await webhooks.aclose()
        if proxy is not None:
            await proxy.aclose()
        if keeper is not None:
            await keeper.aclose()
        if clients is not None:
            await clients.aclose()
        await db.close()
