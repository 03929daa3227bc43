"""Signed ``auth`` webhooks to the company's backend, sent in the background (nango-compat §9)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Literal

import httpx
import structlog
from pydantic import SecretStr
from tenacity import AsyncRetrying, retry_if_result, stop_after_attempt, wait_exponential

from billbridge.signatures import HEADER as STAMPED_HEADER
from billbridge.signatures import sign
from billbridge.store import Connection

log = structlog.get_logger(__name__)

Operation = Literal["creation", "override", "refresh"]


class SigningKey:
    """The key webhooks are signed with.

    The configured webhook signing key if there is one, else the API secret key. Only a hash of a
    generated secret key is stored, so after a restart it is learnt from the first request that
    presents it (``learn``).
    """

    def __init__(self, *, configured: SecretStr | None = None, api_key: SecretStr | None = None) -> None:
        self._configured = configured
        self._api_key = api_key

    def learn(self, api_key: str) -> None:
        """Remember the API secret key a request has just proven."""
        if self._api_key is None or self._api_key.get_secret_value() != api_key:
            self._api_key = SecretStr(api_key)

    def get(self) -> str | None:
        chosen = self._configured or self._api_key
        return chosen.get_secret_value() if chosen else None

    def __repr__(self) -> str:
        return f"SigningKey(known={self.get() is not None})"


def encode(body: Mapping[str, Any]) -> bytes:
    """Compact JSON with sorted keys and raw non-ASCII, as Nango sends and JSON.stringify rebuilds."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def signature_headers(raw: bytes, key: str, *, timestamp: int | None = None) -> dict[str, str]:
    """``X-Nango-Hmac-Sha256`` (HMAC-SHA256 of the raw body), the legacy ``X-Nango-Signature``, and
    ``X-Billbridge-Signature`` (body and send time under HMAC; see :mod:`billbridge.signatures`)."""
    secret = key.encode()
    return {
        "X-Nango-Hmac-Sha256": hmac.new(secret, raw, hashlib.sha256).hexdigest(),
        "X-Nango-Signature": hashlib.sha256(secret + raw).hexdigest(),
        STAMPED_HEADER: sign(raw, key, timestamp=timestamp),
    }


def auth_body(
    *,
    connection_id: str,
    provider_config_key: str,
    environment: str,
    operation: Operation,
    success: bool,
    tags: Mapping[str, str] | None = None,
    end_user: Mapping[str, Any] | None = None,
    error: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The body of an ``auth`` webhook; ``error`` is ``(type, description)`` on failure."""
    body: dict[str, Any] = {
        "from": "nango",
        "type": "auth",
        "connectionId": connection_id,
        "providerConfigKey": provider_config_key,
        "authMode": "BILL",
        "provider": "bill",
        "environment": environment,
        "operation": operation,
        "success": success,
    }
    if tags:
        body["tags"] = dict(tags)
    if end_user and end_user.get("id"):
        who: dict[str, Any] = {"endUserId": end_user["id"], "tags": dict(end_user.get("tags") or {})}
        if end_user.get("email"):
            who["endUserEmail"] = end_user["email"]
        org = end_user.get("organization")
        if isinstance(org, Mapping) and org.get("id"):
            who["organizationId"] = org["id"]
        body["endUser"] = who
    if error is not None:
        body["error"] = {"type": error[0], "description": error[1]}
    return body


class WebhookSender:
    """Delivers webhooks in background tasks, so no API answer waits for the receiver.

    Args:
        url: the default receiver (``BILLBRIDGE_WEBHOOK_URL``); a connection's override wins.
        signing_key: what the bodies are signed with.
        attempts: deliveries tried per webhook (non-2xx and network errors are retried).
        timeout: seconds per attempt.
        backoff: seconds before the second attempt, doubled after each.
    """

    def __init__(
        self,
        *,
        url: str | None,
        signing_key: SigningKey,
        attempts: int = 3,
        timeout: float = 20.0,
        backoff: float = 0.5,
    ) -> None:
        self._url = url
        self._key = signing_key
        self._attempts = attempts
        self._timeout = timeout
        self._backoff = backoff
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[bool]] = set()

    def auth_for(
        self,
        connection: Connection,
        *,
        operation: Operation,
        success: bool,
        error: tuple[str, str] | None = None,
    ) -> None:
        """Queue an ``auth`` webhook about a stored connection."""
        self.auth(
            connection_id=connection.connection_id,
            provider_config_key=connection.provider_config_key,
            environment=connection.environment,
            operation=operation,
            success=success,
            tags=connection.tags,
            end_user=connection.end_user,
            error=error,
            url_override=connection.webhook_url_override,
        )

    def url_for(self, override: str | None) -> str | None:
        """Where a connection's webhooks go: its override, else the configured URL (None: nowhere).

        As for ``auth`` webhooks, nothing is sent when no URL is configured.
        """
        if self._url is None:
            return None
        return override or self._url

    def auth(self, *, url_override: str | None = None, **fields: Any) -> None:
        """Queue an ``auth`` webhook (fields as :func:`auth_body`); a no-op without a receiver URL."""
        if self._url is None:
            return
        url = url_override or self._url
        raw = encode(auth_body(**fields))
        task = asyncio.get_running_loop().create_task(self.deliver(url, raw))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, url: str, raw: bytes) -> bool:
        """POST one signed body, retrying; True once the receiver answered 2xx."""
        headers = {"Content-Type": "application/json"}
        key = self._key.get()
        if key is None:
            log.warning("webhook_unsigned", reason="no signing key known; set BILLBRIDGE_WEBHOOK_SIGNING_KEY")
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._backoff),
            retry=retry_if_result(lambda delivered: not delivered),
            retry_error_callback=lambda _state: False,
        )
        delivered: bool = await retrying(self._post, url, raw, headers, key)
        return delivered

    async def _post(self, url: str, raw: bytes, headers: dict[str, str], key: str | None) -> bool:
        """One delivery attempt; True if the receiver answered 2xx."""
        if key is not None:
            # Signed again per attempt: a retry carries its own send time, inside the tolerance.
            headers.update(signature_headers(raw, key))
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        try:
            response = await self._client.post(url, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        else:
            if 200 <= response.status_code < 300:
                log.info("webhook_delivered", status=response.status_code)
                return True
            outcome = f"HTTP {response.status_code}"
        log.warning("webhook_attempt_failed", outcome=outcome)
        return False

    async def drain(self, *, grace: float = 5.0) -> None:
        """Wait up to ``grace`` seconds for queued deliveries (tests, shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)

    async def aclose(self, *, grace: float = 5.0) -> None:
        """Let queued deliveries finish for ``grace`` seconds, cancel the rest, close the client."""
        await self.drain(grace=grace)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
