"""Linking and deleting connections with everything that follows: cache, events, BILL logout."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

from billbridge.bill import SessionAuth
from billbridge.connections.clients import BillClients
from billbridge.connections.events import (
    ConnectionDeleted,
    ConnectionLinked,
    ConnectionRelinked,
    Events,
    LinkRefused,
    LoginFinished,
)
from billbridge.connections.integrations import Integration
from billbridge.connections.link_errors import LinkRefusedError
from billbridge.connections.link_form import LinkForm
from billbridge.connections.linking import DEFAULT_LINK_DEADLINE, LinkOutcome, LinkTarget, link_account
from billbridge.connections.sessions import SessionKeeper
from billbridge.errors import BillbridgeError, RateLimitError
from billbridge.store import Connection, ConnectionRepository, ConnectSession

log = structlog.get_logger(__name__)

# BILL ends an abandoned session after 35 idle minutes; a logout is only a courtesy.
LOGOUT_TIMEOUT_SECONDS = 30.0


class Accounts:
    """What the API and the CLI do to connections, told to the events notifier once each.

    Args:
        repo: where connections are stored.
        clients: BILL clients per integration.
        keeper: its cache forgets a connection that is re-linked or deleted.
        events: told ``ConnectionLinked``/``ConnectionRelinked``/``LinkRefused``/``ConnectionDeleted``.
        link_deadline: seconds BILL has to answer a link's login.
    """

    def __init__(
        self,
        repo: ConnectionRepository,
        clients: BillClients,
        keeper: SessionKeeper,
        events: Events,
        *,
        link_deadline: float = DEFAULT_LINK_DEADLINE,
    ) -> None:
        self._link_deadline = link_deadline
        self._repo = repo
        self._clients = clients
        self._keeper = keeper
        self._events = events
        self._background: set[asyncio.Task[None]] = set()

    async def link(
        self,
        form: LinkForm,
        *,
        integration: Integration,
        target: LinkTarget,
        connect_session: ConnectSession | None = None,
    ) -> LinkOutcome:
        """Link an account (see :func:`link_account`) and tell what happened.

        Raises:
            LinkRefusedError, RateLimitError: BILL refused or failed; ``LinkRefused`` was emitted.
            ValidationError, NotFoundError: the connect session does not allow this link.
        """
        try:
            outcome = await link_account(
                form,
                integration=integration,
                repo=self._repo,
                clients=self._clients,
                target=target,
                connect_session=connect_session,
                deadline=self._link_deadline,
            )
        except (LinkRefusedError, RateLimitError) as exc:
            await self._refused(exc, integration, target, connect_session)
            raise
        conn = outcome.connection
        self._keeper.forget(conn.pk)
        await self._events.emit(LoginFinished(purpose="link", outcome="ok"))
        await self._events.emit(ConnectionLinked(conn) if outcome.created else ConnectionRelinked(conn))
        return outcome

    async def _refused(
        self,
        exc: LinkRefusedError | RateLimitError,
        integration: Integration,
        target: LinkTarget,
        connect_session: ConnectSession | None,
    ) -> None:
        reconnect = connect_session.reconnect if connect_session is not None else None
        reason = exc.bill_code if isinstance(exc, LinkRefusedError) and exc.bill_code else exc.code
        await self._events.emit(LoginFinished(purpose="link", outcome=reason))
        await self._events.emit(
            LinkRefused(
                connection_id=reconnect[0] if reconnect is not None else target.connection_id or "",
                provider_config_key=integration.unique_key,
                environment=integration.environment,
                operation="override" if reconnect is not None else "creation",
                code=exc.code,
                message=exc.message,
                tags=target.tags,
                end_user=target.end_user,
                webhook_url_override=target.webhook_url_override,
            )
        )

    async def delete(self, conn: Connection) -> bool:
        """Delete the connection and end its BILL session in the background.

        Returns:
            False if it was already gone (nothing is emitted then).
        """
        deleted = await self._repo.delete(conn.pk)
        self._keeper.forget(conn.pk)
        if deleted:
            self._spawn(self._logout(conn))
            await self._events.emit(ConnectionDeleted(conn))
        return deleted

    async def _logout(self, conn: Connection) -> None:
        session_id = conn.session.session_id
        if session_id is None:
            return
        auth = SessionAuth(conn.credentials.dev_key, session_id, conn.credentials.organization_id)
        client = self._clients.for_integration(conn.provider_config_key)
        try:
            await asyncio.wait_for(client.logout(auth), LOGOUT_TIMEOUT_SECONDS)
        except (BillbridgeError, TimeoutError) as exc:
            log.info("logout_skipped", connection_id=conn.connection_id, reason=type(exc).__name__)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, *, grace: float = 10.0) -> None:
        """Wait up to ``grace`` seconds for background logouts (tests, shutdown)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=grace)

    def __repr__(self) -> str:
        return f"Accounts(background={len(self._background)})"
