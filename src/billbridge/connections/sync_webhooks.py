"""The signed ``sync`` webhook of a finished run (nango-compat §9), built and sent once per call.

The sync engine calls :meth:`SyncWebhooks.send` from a durable workflow step: a ``False`` answer
(the receiver did not take it) makes the engine retry later, a restart does not lose it. Bodies
are signed and encoded exactly like the ``auth`` webhooks (:mod:`billbridge.connections.webhooks`).

The outcome the engine passes is a JSON object:

- success: ``{"success": true, "counts": {"added", "updated", "deleted"}, "started_at": ISO,
  "full": bool}``; ``started_at`` becomes ``modifiedAfter`` (every record this run changed was
  modified at or after it, so ``listRecords(modifiedAfter=...)`` returns exactly those);
- failure: ``{"success": false, "error": message, "code": code, "started_at": ISO,
  "finished_at": ISO}``; the message must hold no secret.

An optional ``"sync_type"`` (INITIAL or INCREMENTAL) wins over what the sync state says.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import structlog

from billbridge.connections.webhooks import WebhookSender, encode
from billbridge.store import ConnectionRepository, SyncResult, SyncStateRepository

log = structlog.get_logger(__name__)

SyncType = Literal["INITIAL", "INCREMENTAL"]


def sync_body(
    *,
    connection_id: str,
    provider_config_key: str,
    sync_name: str,
    model: str,
    sync_type: SyncType,
    success: bool,
    result: SyncResult | None = None,
    modified_after: str | None = None,
    error: tuple[str, str] | None = None,
    started_at: str | None = None,
    failed_at: str | None = None,
) -> dict[str, Any]:
    """The body of a ``sync`` webhook; ``error`` is ``(type, description)`` on failure."""
    body: dict[str, Any] = {
        "from": "nango",
        "type": "sync",
        "connectionId": connection_id,
        "providerConfigKey": provider_config_key,
        "syncName": sync_name,
        "syncVariant": "base",
        "model": model,
        "syncType": sync_type,
        "success": success,
    }
    if success:
        counts = result or SyncResult()
        body["responseResults"] = counts.as_dict()
        body["modifiedAfter"] = modified_after
        body["queryTimeStamp"] = modified_after  # Nango's deprecated copy of modifiedAfter
    else:
        kind, description = error or ("sync_failed", "The sync failed.")
        body["error"] = {"type": kind, "description": description}
        body["startedAt"] = started_at
        body["failedAt"] = failed_at
    return body


class SyncWebhooks:
    """Sends the ``sync`` webhook of a run to the connection's receiver (its override, else the
    configured URL)."""

    def __init__(
        self, connections: ConnectionRepository, states: SyncStateRepository, sender: WebhookSender
    ) -> None:
        self._connections = connections
        self._states = states
        self._sender = sender

    async def send(self, connection_pk: int, sync: str, outcome: Mapping[str, Any]) -> bool:
        """Deliver one webhook (with the sender's own retries); True once taken, or when there is
        nothing to deliver (no receiver configured, the connection or sync is gone)."""
        conn = await self._connections.get_by_pk(connection_pk)
        state = await self._states.get(connection_pk, sync)
        if conn is None or state is None:
            return True
        url = self._sender.url_for(conn.webhook_url_override)
        if url is None:
            return True
        success = bool(outcome.get("success"))
        sync_type: SyncType = outcome.get("sync_type") or (
            "INITIAL" if outcome.get("full") else state.sync_type
        )
        counts = outcome.get("counts") or {}
        body = sync_body(
            connection_id=conn.connection_id,
            provider_config_key=conn.provider_config_key,
            sync_name=sync,
            model=state.model,
            sync_type=sync_type,
            success=success,
            result=SyncResult(**{k: int(counts.get(k, 0)) for k in ("added", "updated", "deleted")}),
            modified_after=outcome.get("started_at"),
            error=None
            if success
            else (str(outcome.get("code", "sync_failed")), str(outcome.get("error", ""))),
            started_at=outcome.get("started_at"),
            failed_at=outcome.get("finished_at"),
        )
        delivered = await self._sender.deliver(url, encode(body))
        log.info("sync_webhook", sync=sync, success=success, delivered=delivered)
        return delivered
