"""Link a BILL account: validate the input, log in to BILL, then store the connection atomically."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from pydantic import SecretStr

from billbridge.bill import LoginResult, SessionAuth
from billbridge.connections.clients import BillClients
from billbridge.connections.integrations import Integration
from billbridge.connections.link_errors import LinkRefusedError, login_failure
from billbridge.connections.link_form import LinkForm
from billbridge.errors import BillbridgeError, NotFoundError, ValidationError
from billbridge.store import BillCredentials, Connection, ConnectionRepository, ConnectSession, SessionState

log = structlog.get_logger(__name__)

# Seconds BILL has to answer a link's login (BILLBRIDGE_LINK_TIMEOUT_SECONDS).
DEFAULT_LINK_DEADLINE = 30.0
# The code of a link whose login outlived the deadline (answered 504).
LINK_TIMEOUT = "bill_timeout"


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """Where a new link goes and what it carries besides the credentials."""

    connection_id: str | None = None
    end_user: dict[str, Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    webhook_url_override: str | None = None
    connection_config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    """A stored link: the connection and whether it is new (``creation``) or replaced (``override``)."""

    connection: Connection
    created: bool

    @property
    def operation(self) -> Literal["creation", "override"]:
        return "creation" if self.created else "override"


def check_session_allows(session: ConnectSession, provider_config_key: str, *, now: datetime) -> None:
    """Refuse a link that the connect session does not allow.

    Raises:
        NotFoundError: the session has expired (401 ``unknown_connect_session_token``).
        ValidationError: the integration is not allowed for it (``integration_not_allowed``).
    """
    if session.expires_at <= now:
        raise NotFoundError(
            "The connect session has expired; ask the application for a new link.",
            code="unknown_connect_session_token",
        )
    allowed = session.allowed_integrations
    if allowed and provider_config_key not in allowed:
        raise ValidationError(
            f"The integration {provider_config_key!r} is not allowed for this connect session; "
            f"use one of: {', '.join(allowed)}.",
            field="providerConfigKey",
            code="integration_not_allowed",
        )
    if session.reconnect is not None and session.reconnect[1] != provider_config_key:
        raise ValidationError(
            f"This reconnect session is for {session.reconnect[1]!r}; link that integration.",
            field="providerConfigKey",
            code="integration_not_allowed",
        )


async def link_account(
    form: LinkForm,
    *,
    integration: Integration,
    repo: ConnectionRepository,
    clients: BillClients,
    target: LinkTarget | None = None,
    connect_session: ConnectSession | None = None,
    now: datetime | None = None,
    deadline: float = DEFAULT_LINK_DEADLINE,
) -> LinkOutcome:
    """Log in to BILL with ``form`` and, only if BILL accepts, store the connection in one step.

    Args:
        form: checked input (:func:`parse_link_form`).
        integration: ``bill`` or ``bill-sandbox``.
        repo: where connections live.
        clients: BILL clients per integration.
        target: connection id, end user, tags, override URL and config (a connect session's).
        connect_session: the session that authorised this link, checked again here.
        now: the current time (tests).
        deadline: seconds BILL has to answer the login, retries included.

    Raises:
        LinkRefusedError: BILL refused the login (400), could not be reached (502), or did not
            answer within ``deadline`` (504).
        RateLimitError: BILL's hourly login budget for the developer key is spent.
        ValidationError / NotFoundError: the session does not allow this link.
    """
    now = now or datetime.now(UTC)
    target = target or LinkTarget()
    key = integration.unique_key
    if connect_session is not None:
        check_session_allows(connect_session, key, now=now)
    connection_id = target.connection_id
    if connect_session is not None and connect_session.reconnect is not None:
        connection_id = connect_session.reconnect[0]
        if await repo.get(connection_id, key) is None:
            raise ValidationError(
                "The connection to reconnect no longer exists; ask the application for a new link.",
                field="connection_id",
                code="invalid_connection",
            )
    connection_id = connection_id or str(uuid.uuid4())
    existing = await repo.get(connection_id, key)
    if existing is not None and connect_session is not None and connect_session.reconnect is not None:
        # An end user's reconnect; an operator's re-link (``billbridge link``) may move organizations.
        _check_same_organization(existing, form)
    remember_me_id, device = _remembered_device(existing, form)
    client = clients.for_integration(key)
    try:
        # One deadline for the whole login: the client's own retries could keep a person at a
        # spinning form for minutes while BILL hangs.
        async with asyncio.timeout(deadline):
            result = await client.login(
                username=form.username,
                password=form.password,
                organization_id=form.organization_id,
                dev_key=form.dev_key,
                # A re-link of the same BILL user keeps the device BILL remembers: no new MFA code.
                remember_me_id=remember_me_id,
                device=device,
            )
    except TimeoutError:
        raise LinkRefusedError(
            f"BILL did not answer within {deadline:g} seconds; nothing was stored. Try again in a "
            "few minutes (BILL's status: status.bill.com).",
            code=LINK_TIMEOUT,
        ) from None
    except BillbridgeError as exc:
        raise login_failure(exc, environment=integration.environment) from None
    credentials = BillCredentials(
        username=form.username,
        password=form.password,
        organization_id=result.organization_id or form.organization_id,
        dev_key=form.dev_key,
        api_token=form.api_token,
        remember_me_id=remember_me_id,
        device=device,
    )
    keep = existing if existing is not None and connect_session is None else None
    try:
        connection, created = await repo.upsert_linked(
            connection_id=connection_id,
            provider_config_key=key,
            environment=integration.environment,
            credentials=credentials,
            session=_session_state(result, now),
            end_user=target.end_user if keep is None else keep.end_user,
            tags=target.tags if keep is None else keep.tags,
            webhook_url_override=target.webhook_url_override if keep is None else keep.webhook_url_override,
            connection_config=target.connection_config if keep is None else keep.connection_config,
        )
    except BaseException:
        # BILL accepted a session we now cannot keep: end it rather than leave it open.
        await _quiet_logout(clients, key, credentials, result)
        raise
    log.info("connection_linked", connection_id=connection_id, provider_config_key=key, created=created)
    return LinkOutcome(connection=connection, created=created)


def _check_same_organization(existing: Connection, form: LinkForm) -> None:
    """A reconnect keeps the connection's BILL organization: its data, syncs and webhooks belong to it.

    Raises:
        ValidationError: ``organization_mismatch`` on ``organization_id``.
    """
    linked = existing.credentials.organization_id
    if form.organization_id.strip() != linked:
        raise ValidationError(
            f"This connection belongs to the BILL organization {linked}; reconnect with that "
            "organization_id. To link another organization, ask the application for a new link.",
            field="organization_id",
            code="organization_mismatch",
        )


def _remembered_device(existing: Connection | None, form: LinkForm) -> tuple[SecretStr | None, str | None]:
    """The remember-me id and device a re-link keeps: only for the same BILL user and organization.

    BILL remembers a device for one user of one organization, so a re-link that changes either
    starts without one (and the old id is not sent to BILL for somebody else). User names are
    e-mail addresses, compared without regard to case as BILL does.
    """
    if existing is None or existing.credentials.remember_me_id is None or not existing.credentials.device:
        return None, None
    stored = existing.credentials
    same_user = stored.username.casefold() == form.username.casefold()
    if not same_user or stored.organization_id != form.organization_id:
        return None, None
    return stored.remember_me_id, stored.device


def _session_state(result: LoginResult, now: datetime) -> SessionState:
    return SessionState(
        session_id=result.session_id,
        user_id=result.user_id,
        trusted=result.trusted,
        started_at=now,
        last_used_at=now,
        generation=0,
        raw=dict(result.raw),
    )


async def _quiet_logout(clients: BillClients, key: str, creds: BillCredentials, result: LoginResult) -> None:
    auth = SessionAuth(
        dev_key=creds.dev_key, session_id=result.session_id, organization_id=creds.organization_id
    )
    try:
        await clients.for_integration(key).logout(auth)
    except Exception as exc:  # best effort: the session expires by itself within 35 minutes
        log.warning("logout_failed", error_type=type(exc).__name__)


def target_from_session(session: ConnectSession, provider_config_key: str) -> LinkTarget:
    """What a connect session attaches to the connection it creates (end user, tags, config)."""
    end_user = dict(session.end_user) if session.end_user else None
    if end_user is not None and session.organization:
        end_user.setdefault("organization", dict(session.organization))
    defaults = (session.integrations_config_defaults or {}).get(provider_config_key) or {}
    return LinkTarget(
        end_user=end_user,
        tags=session_tags(session.end_user, session.organization, session.tags),
        webhook_url_override=session.webhook_url_override or None,
        connection_config=dict(defaults.get("connection_config") or {}),
    )


def session_tags(
    end_user: Mapping[str, Any] | None,
    organization: Mapping[str, Any] | None,
    tags: Mapping[str, str] | None,
) -> dict[str, str]:
    """Nango's generated tags (end user and organization) under the session's own tags."""
    generated: dict[str, str] = {}
    pairs: Sequence[tuple[str, Mapping[str, Any] | None, str]] = (
        ("end_user_id", end_user, "id"),
        ("end_user_email", end_user, "email"),
        ("end_user_display_name", end_user, "display_name"),
        ("organization_id", organization, "id"),
        ("organization_display_name", organization, "display_name"),
    )
    for tag, source, attr in pairs:
        value = source.get(attr) if source else None
        if isinstance(value, str) and value:
            generated[tag] = value
    generated.update({k.lower(): v for k, v in (tags or {}).items()})
    return generated
