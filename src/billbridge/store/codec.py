"""Between connection rows and domain objects: encryption of secrets, end-user copies, sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar, cast

from pydantic import SecretStr

from billbridge.store.crypto import Keyring, field_aad
from billbridge.store.domain import (
    BillCredentials,
    Connection,
    ConnectionStatus,
    ConnectionSummary,
    EnvironmentName,
    SessionState,
)
from billbridge.store.models import ConnectionRow

# Keys never kept in a session's raw login answer, whatever BILL or a caller puts there.
_RAW_SECRET_KEYS = frozenset({"sessionid", "devkey", "password", "apitoken", "remembermeid"})
_SEARCH_SEPARATOR = "\x1f"
_T = TypeVar("_T")


def secret_aad(connection_id: str, provider_config_key: str, field: str) -> bytes:
    """Associated data of one secret field of one connection."""
    return field_aad("connections", provider_config_key, connection_id, field)


class ConnectionCodec:
    """Writes domain values onto rows (encrypting) and reads rows back (decrypting)."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def seal(self, row: ConnectionRow, field: str, value: SecretStr | None) -> str | None:
        """Encrypt one secret for ``row`` (bound to its ids and ``field``); None stays None."""
        if value is None:
            return None
        aad = secret_aad(row.connection_id, row.provider_config_key, field)
        return self.keyring.encrypt(value.get_secret_value(), aad=aad)

    def open(self, row: ConnectionRow, field: str, token: str | None) -> SecretStr | None:
        """Decrypt one secret of ``row``; raises DecryptionError if it does not belong there."""
        if token is None:
            return None
        aad = secret_aad(row.connection_id, row.provider_config_key, field)
        return SecretStr(self.keyring.decrypt(token, aad=aad))

    def write_credentials(self, row: ConnectionRow, credentials: BillCredentials) -> None:
        """Store ``credentials`` on ``row``; the row's ids must already be set."""
        row.username = credentials.username
        row.organization_id = credentials.organization_id
        row.device = credentials.device
        row.password_enc = _required(self.seal(row, "password", credentials.password))
        row.dev_key_enc = _required(self.seal(row, "dev_key", credentials.dev_key))
        row.api_token_enc = self.seal(row, "api_token", credentials.api_token)
        row.remember_me_id_enc = self.seal(row, "remember_me_id", credentials.remember_me_id)

    def write_session(self, row: ConnectionRow, state: SessionState, *, generation: int) -> None:
        """Store ``state`` on ``row`` under the store-assigned ``generation``."""
        row.session_id_enc = self.seal(row, "session_id", state.session_id)
        row.session_user_id = state.user_id
        row.session_trusted = state.trusted
        row.session_started_at = state.started_at
        row.session_last_used_at = state.last_used_at
        row.session_generation = generation
        row.session_raw = {k: v for k, v in state.raw.items() if k.lower() not in _RAW_SECRET_KEYS}

    def clear_session(self, row: ConnectionRow) -> None:
        """Forget the session (the generation stays, so stale reports still compare correctly)."""
        self.write_session(row, SessionState(), generation=row.session_generation)

    def read(self, row: ConnectionRow) -> Connection:
        """The domain object of ``row`` with every secret decrypted."""
        credentials = BillCredentials(
            username=row.username,
            password=_required(self.open(row, "password", row.password_enc)),
            organization_id=row.organization_id,
            dev_key=_required(self.open(row, "dev_key", row.dev_key_enc)),
            api_token=self.open(row, "api_token", row.api_token_enc),
            remember_me_id=self.open(row, "remember_me_id", row.remember_me_id_enc),
            device=row.device,
        )
        session = SessionState(
            session_id=self.open(row, "session_id", row.session_id_enc),
            user_id=row.session_user_id,
            trusted=row.session_trusted,
            started_at=row.session_started_at,
            last_used_at=row.session_last_used_at,
            generation=row.session_generation,
            raw=dict(row.session_raw),
        )
        return Connection(
            pk=row.id,
            connection_id=row.connection_id,
            provider_config_key=row.provider_config_key,
            environment=cast(EnvironmentName, row.environment),
            status=cast(ConnectionStatus, row.status),
            last_error=row.last_error,
            end_user=dict(row.end_user) if row.end_user is not None else None,
            tags={str(k): str(v) for k, v in row.tags.items()},
            metadata=dict(row.metadata_),
            connection_config=dict(row.connection_config),
            webhook_url_override=row.webhook_url_override,
            credentials=credentials,
            session=session,
            login_failures=row.login_failures,
            cooldown_until=row.cooldown_until,
            created_at=row.created_at,
            updated_at=row.updated_at,
            last_fetched_at=row.last_fetched_at,
        )


def summary(row: ConnectionRow) -> ConnectionSummary:
    """The listed fields of ``row``, read without decrypting anything."""
    return ConnectionSummary(
        pk=row.id,
        connection_id=row.connection_id,
        provider_config_key=row.provider_config_key,
        environment=cast(EnvironmentName, row.environment),
        status=cast(ConnectionStatus, row.status),
        end_user=dict(row.end_user) if row.end_user is not None else None,
        tags={str(k): str(v) for k, v in row.tags.items()},
        metadata=dict(row.metadata_),
        username=row.username,
        organization_id=row.organization_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def write_end_user(row: ConnectionRow, end_user: dict[str, Any] | None) -> None:
    """Store ``end_user`` and the copies the list filters use (id, organization id, search text)."""
    row.end_user = dict(end_user) if end_user is not None else None
    user = end_user or {}
    organization = user.get("organization") or {}
    row.end_user_id = _text_or_none(user.get("id"))
    row.end_user_organization_id = _text_or_none(organization.get("id"))
    parts = (row.connection_id, user.get("display_name"), user.get("email"))
    row.search_text = _SEARCH_SEPARATOR.join(str(p).casefold() for p in parts if p)


def reset_health(row: ConnectionRow) -> None:
    """Back to a usable connection: status ok, no error, no failures, no cooldown."""
    row.status = "ok"
    row.last_error = None
    row.login_failures = 0
    row.cooldown_until = None


def search_term(text: str) -> str:
    """The form a search string is compared in (casefolded, like ``search_text``)."""
    return text.replace(_SEARCH_SEPARATOR, "").casefold()


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _required(value: _T | None) -> _T:
    if value is None:  # pragma: no cover - guarded by the NOT NULL columns
        raise ValueError("required secret missing")
    return value


def aware(value: datetime | None) -> datetime | None:
    """Refuse naive datetimes early, with a message that names the mistake."""
    if value is not None and value.tzinfo is None:
        raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
    return value
