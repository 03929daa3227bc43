"""Configuration from the environment (prefix ``BILLBRIDGE_``) and an optional ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from billbridge.errors import ConfigurationError

SANDBOX_GATEWAY = "https://gateway.stage.bill.com"
PRODUCTION_GATEWAY = "https://gateway.prod.bill.com"


class Settings(BaseSettings):
    """Everything billbridge reads from its environment. Build it with :func:`get_settings`."""

    model_config = SettingsConfigDict(env_prefix="BILLBRIDGE_", env_file=".env", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path(".billbridge"), description="Where SQLite and the key file live.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite in DATA_DIR if unset.")
    encryption_key: SecretStr | None = Field(
        default=None,
        description="Keyring 'id:base64key,...' (first encrypts); a key file in DATA_DIR if unset.",
    )
    secret_key: SecretStr | None = Field(default=None, description="Preset API secret key (Bearer).")
    public_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("http://127.0.0.1:3003"), description="Where users reach us."
    )
    bill_sandbox_url: AnyHttpUrl = Field(
        default=AnyHttpUrl(SANDBOX_GATEWAY), description="Sandbox gateway root."
    )
    bill_production_url: AnyHttpUrl = Field(
        default=AnyHttpUrl(PRODUCTION_GATEWAY), description="Production gateway root."
    )
    webhook_url: AnyHttpUrl | None = Field(default=None, description="Where auth webhooks are sent.")
    webhook_signing_key: SecretStr | None = Field(
        default=None, description="HMAC key for webhooks; the API secret key if unset."
    )
    connect_frame_ancestors: str = Field(
        default="*", description="CSP frame-ancestors for the Connect UI (space-separated origins)."
    )
    connect_mfa_required: bool = Field(default=False, description="Ask for an MFA-trusted session on link.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest body the API and Connect UI accept (413 above)."
    )
    proxy_max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Largest body the proxy forwards (413 above)."
    )
    link_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="One deadline for linking an account, BILL calls included."
    )
    connect_session_purge_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How often expired connect sessions and idempotency keys are deleted.",
    )
    sync_defaults: str = Field(
        default="all",
        description="Syncs a new connection starts: all, none, or 'vendors=every 15m,bills,...'.",
    )
    bill_sync_defaults: str | None = Field(
        default=None, description="SYNC_DEFAULTS for connections of the 'bill' integration only."
    )
    bill_sandbox_sync_defaults: str | None = Field(
        default=None, description="SYNC_DEFAULTS for connections of the 'bill-sandbox' integration only."
    )
    worker_takeover_seconds: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="How often a process running syncs on PostgreSQL takes over the runs of dead ones.",
    )
    syncs_in_api: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Whether serve runs syncs: auto = yes on SQLite, on PostgreSQL workers do.",
    )

    @field_validator("secret_key")
    @classmethod
    def _strong_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_secret_key(value.get_secret_value())
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'billbridge.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


MIN_SECRET_KEY_LENGTH = 32
MIN_DISTINCT_CHARACTERS = 8


def check_secret_key(value: str) -> None:
    """Refuse a guessable API secret key.

    The key is the API's only credential (it also signs webhooks unless a signing key is set),
    so it must be long and random enough that nobody can guess or brute-force it.

    Raises:
        ValueError: the key is shorter than 32 characters or repeats a handful of characters.
    """
    why = (
        "it is the only credential of the API and signs webhooks, so a short or repetitive key "
        "can be guessed; generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )
    if len(value.strip()) < MIN_SECRET_KEY_LENGTH:
        raise ValueError(f"must be at least {MIN_SECRET_KEY_LENGTH} characters of random text: {why}")
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        raise ValueError(f"is too repetitive to be random: {why}")


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment; a bad value raises ConfigurationError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"BILLBRIDGE_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"Invalid configuration: {problems}") from None
