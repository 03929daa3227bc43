"""Domain objects the repositories hand out; secrets are ``SecretStr`` so no repr shows them."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import SecretStr

ConnectionStatus = Literal["ok", "invalid_credentials"]
EnvironmentName = Literal["sandbox", "production"]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time as an aware UTC datetime (the store's default clock)."""
    return datetime.now(UTC)


class Unset(enum.Enum):
    """Marks an argument that was not given, as opposed to one given as ``None``."""

    UNSET = "UNSET"


UNSET = Unset.UNSET


@dataclass(frozen=True, slots=True)
class BillCredentials:
    """What billbridge needs to log in to BILL for one connection.

    ``username``, ``organization_id`` and ``device`` are stored in plaintext (listing and
    reconnect pre-fill need them); every ``SecretStr`` field is stored encrypted.
    """

    username: str
    password: SecretStr
    organization_id: str
    dev_key: SecretStr
    api_token: SecretStr | None = None
    remember_me_id: SecretStr | None = None
    device: str | None = None


@dataclass(frozen=True, slots=True)
class SessionState:
    """A BILL session as last saved.

    ``generation`` is assigned by the store (each saved session gets the previous value + 1), so a
    caller that saw generation N can tell whether someone logged in since. ``raw`` is BILL's login
    answer without ``sessionId`` (the store drops that key if present). Timestamps are aware UTC.
    """

    session_id: SecretStr | None = None
    user_id: str | None = None
    trusted: bool = False
    started_at: datetime | None = None
    last_used_at: datetime | None = None
    generation: int = 0
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def is_present(self) -> bool:
        """True when a session id is stored."""
        return self.session_id is not None


@dataclass(frozen=True, slots=True)
class Connection:
    """One linked BILL account (a Nango connection), with its credentials decrypted."""

    pk: int
    connection_id: str
    provider_config_key: str
    environment: EnvironmentName
    status: ConnectionStatus
    last_error: str | None
    end_user: dict[str, Any] | None
    tags: dict[str, str]
    metadata: dict[str, Any]
    connection_config: dict[str, Any]
    webhook_url_override: str | None
    credentials: BillCredentials
    session: SessionState
    login_failures: int
    cooldown_until: datetime | None
    created_at: datetime
    updated_at: datetime
    last_fetched_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConnectionSummary:
    """A connection as lists show it: nothing encrypted, so listing never needs the keyring."""

    pk: int
    connection_id: str
    provider_config_key: str
    environment: EnvironmentName
    status: ConnectionStatus
    end_user: dict[str, Any] | None
    tags: dict[str, str]
    metadata: dict[str, Any]
    username: str
    organization_id: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ConnectSession:
    """A connect session: what a token allows (the token itself is only ever stored hashed)."""

    pk: int
    end_user: dict[str, Any] | None
    organization: dict[str, Any] | None
    allowed_integrations: list[str] | None
    integrations_config_defaults: dict[str, Any]
    tags: dict[str, str]
    webhook_url_override: str | None
    # (connection_id, provider_config_key) of the connection a reconnect session pins.
    reconnect: tuple[str, str] | None
    mfa_required: bool
    attempts: int
    created_at: datetime
    expires_at: datetime
    # Internal ids (``Connection.pk``) of the connections linked with this session's token.
    linked_connections: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Operation:
    """One entry of the operations log: what happened, when, to which connection. No secrets."""

    pk: int
    kind: str
    outcome: str
    connection_id: str | None
    provider_config_key: str | None
    detail: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RotationResult:
    """What ``rotate_keys`` re-encrypted, and under which key id."""

    key_id: str
    connections: int
    fields: int
    api_keys: int
