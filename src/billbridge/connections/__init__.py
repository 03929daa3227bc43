"""Linking BILL accounts and keeping them usable: integrations, clients, sessions, proxy."""

from __future__ import annotations

from billbridge.connections.accounts import Accounts
from billbridge.connections.clients import BillClients, TransportFactory
from billbridge.connections.clock import Clock, utc_now
from billbridge.connections.concurrency import InFlightLeases
from billbridge.connections.events import (
    ConnectionDeleted,
    ConnectionLinked,
    ConnectionRelinked,
    Event,
    Events,
    LinkRefused,
    LoginFinished,
    RefreshFailed,
)
from billbridge.connections.integrations import (
    Integration,
    get_integration,
    integrations_from_settings,
)
from billbridge.connections.limits import SharedLimits, limits_for_database
from billbridge.connections.login_policy import IDLE_TIMEOUT
from billbridge.connections.paths import confine_path, is_spend_path
from billbridge.connections.proxy import Proxy
from billbridge.connections.reactions import record_operations, send_auth_webhooks
from billbridge.connections.secret_keys import CONNECT_PREFIX, SecretKeys
from billbridge.connections.sessions import KeeperAuth, LiveSession, SessionKeeper

__all__ = [
    "CONNECT_PREFIX",
    "IDLE_TIMEOUT",
    "LINK_TIMEOUT",
    "Accounts",
    "BillClients",
    "Clock",
    "ConnectionDeleted",
    "ConnectionLinked",
    "ConnectionRelinked",
    "Event",
    "Events",
    "InFlightLeases",
    "Integration",
    "KeeperAuth",
    "LinkRefused",
    "LiveSession",
    "LoginFinished",
    "Proxy",
    "RefreshFailed",
    "SecretKeys",
    "SessionKeeper",
    "SharedLimits",
    "TransportFactory",
    "confine_path",
    "get_integration",
    "integrations_from_settings",
    "is_spend_path",
    "limits_for_database",
    "record_operations",
    "send_auth_webhooks",
    "utc_now",
]

# Linking and auth webhooks.
from billbridge.connections.link_errors import (
    UNREACHABLE,
    FieldProblem,
    LinkInputError,
    LinkRefusedError,
    login_failure,
)
from billbridge.connections.link_form import LinkForm, parse_link_form
from billbridge.connections.linking import (
    LINK_TIMEOUT,
    LinkOutcome,
    LinkTarget,
    check_session_allows,
    link_account,
    session_tags,
    target_from_session,
)
from billbridge.connections.sync_webhooks import SyncWebhooks, sync_body
from billbridge.connections.webhooks import (
    SigningKey,
    WebhookSender,
)

__all__ += [
    "UNREACHABLE",
    "FieldProblem",
    "LinkForm",
    "LinkInputError",
    "LinkOutcome",
    "LinkRefusedError",
    "LinkTarget",
    "SigningKey",
    "SyncWebhooks",
    "WebhookSender",
    "check_session_allows",
    "link_account",
    "login_failure",
    "parse_link_form",
    "session_tags",
    "sync_body",
    "target_from_session",
]
