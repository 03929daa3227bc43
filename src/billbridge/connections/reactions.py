"""The standing reactions to connection events: ``auth`` webhooks and the operations log."""

from __future__ import annotations

from typing import Any

from billbridge.connections.events import (
    ConnectionDeleted,
    ConnectionLinked,
    ConnectionRelinked,
    Events,
    LinkRefused,
    RefreshFailed,
)
from billbridge.connections.webhooks import WebhookSender
from billbridge.store import OperationRepository


def send_auth_webhooks(events: Events, sender: WebhookSender) -> None:
    """Queue Nango's ``auth`` webhook for every link, refused link and refresh failure (§9)."""

    async def linked(event: ConnectionLinked) -> None:
        sender.auth_for(event.connection, operation="creation", success=True)

    async def relinked(event: ConnectionRelinked) -> None:
        sender.auth_for(event.connection, operation="override", success=True)

    async def refused(event: LinkRefused) -> None:
        sender.auth(
            connection_id=event.connection_id,
            provider_config_key=event.provider_config_key,
            environment=event.environment,
            operation=event.operation,
            success=False,
            tags=event.tags,
            end_user=event.end_user,
            error=(event.code, event.message),
            url_override=event.webhook_url_override,
        )

    async def refresh_failed(event: RefreshFailed) -> None:
        sender.auth_for(
            event.connection, operation="refresh", success=False, error=(event.code, event.message)
        )

    events.subscribe(ConnectionLinked, linked)
    events.subscribe(ConnectionRelinked, relinked)
    events.subscribe(LinkRefused, refused)
    events.subscribe(RefreshFailed, refresh_failed)


def record_operations(events: Events, operations: OperationRepository) -> None:
    """Append what happened to the operations log (no secrets: codes and ids only)."""

    async def record(
        kind: str, outcome: str, connection_id: str, key: str, detail: dict[str, Any] | None = None
    ) -> None:
        await operations.record(
            kind=kind, outcome=outcome, connection_id=connection_id, provider_config_key=key, detail=detail
        )

    async def linked(event: ConnectionLinked) -> None:
        conn = event.connection
        await record("link", "creation", conn.connection_id, conn.provider_config_key)

    async def relinked(event: ConnectionRelinked) -> None:
        conn = event.connection
        await record("link", "override", conn.connection_id, conn.provider_config_key)

    async def refused(event: LinkRefused) -> None:
        detail = {"code": event.code}
        await record("link", "refused", event.connection_id, event.provider_config_key, detail)

    async def refresh_failed(event: RefreshFailed) -> None:
        conn = event.connection
        detail = {"code": event.code}
        await record("refresh", "invalid_credentials", conn.connection_id, conn.provider_config_key, detail)

    async def deleted(event: ConnectionDeleted) -> None:
        conn = event.connection
        await record("delete", "deleted", conn.connection_id, conn.provider_config_key)

    events.subscribe(ConnectionLinked, linked)
    events.subscribe(ConnectionRelinked, relinked)
    events.subscribe(LinkRefused, refused)
    events.subscribe(RefreshFailed, refresh_failed)
    events.subscribe(ConnectionDeleted, deleted)
