"""What happened to connections, told once to whoever reacts: webhooks, the operations log, metrics.

Linking, the session keeper and deletion emit an event; they never call webhooks or the log
themselves. A subscriber that fails is logged and skipped: a reaction never fails what happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import structlog

from billbridge.store import Connection

log = structlog.get_logger(__name__)


class Event:
    """Base of every event (connections' here; syncs add their own)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ConnectionLinked(Event):
    """A new connection was stored after BILL accepted its credentials."""

    connection: Connection


@dataclass(frozen=True, slots=True)
class ConnectionRelinked(Event):
    """An existing connection got new credentials (a reconnect, or a link under its id)."""

    connection: Connection


@dataclass(frozen=True, slots=True)
class LinkRefused(Event):
    """BILL refused a link (or could not be reached); nothing was stored.

    The connection fields are those the link would have had, for the failure webhook.
    """

    connection_id: str
    provider_config_key: str
    environment: str
    operation: Literal["creation", "override"]
    code: str
    message: str
    tags: Mapping[str, str] = field(default_factory=dict)
    end_user: Mapping[str, Any] | None = None
    webhook_url_override: str | None = None


@dataclass(frozen=True, slots=True)
class RefreshFailed(Event):
    """BILL refused a working connection's stored credentials: it is now ``invalid_credentials``.

    Emitted once per refusal, by the process whose login marked the connection.
    """

    connection: Connection
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ConnectionDeleted(Event):
    """A connection was deleted (its BILL session is ended in the background)."""

    connection: Connection


@dataclass(frozen=True, slots=True)
class LoginFinished(Event):
    """billbridge logged in to BILL: to link an account, or to renew a connection's session.

    ``outcome`` is ``ok`` or the reason it failed (BILL's code, or billbridge's for a transport
    failure); never a secret.
    """

    purpose: Literal["link", "renew"]
    outcome: str


E = TypeVar("E", bound=Event)
Handler = Callable[[E], Awaitable[None]]


class Events:
    """The notifier: subscribers register per event class and are awaited in order on each emit."""

    def __init__(self) -> None:
        self._handlers: list[tuple[type[Event], Callable[[Any], Awaitable[None]]]] = []

    def subscribe(self, kind: type[E], handler: Handler[E]) -> None:
        """Call ``handler`` for every emitted event that is a ``kind`` (subclasses included)."""
        self._handlers.append((kind, handler))

    async def emit(self, event: Event) -> None:
        """Tell every subscriber of this event's class, each once; their failures are only logged."""
        for kind, handler in self._handlers:
            if not isinstance(event, kind):
                continue
            try:
                await handler(event)
            except Exception as exc:
                log.warning(
                    "event_subscriber_failed",
                    event_kind=type(event).__name__,
                    subscriber=getattr(handler, "__qualname__", repr(handler)),
                    error_type=type(exc).__name__,
                )

    def __repr__(self) -> str:
        return f"Events(subscribers={len(self._handlers)})"
