"""Linking BILL accounts and keeping them usable: integrations, clients, sessions, proxy."""

from __future__ import annotations

from billbridge.connections.clients import BillClients, TransportFactory
from billbridge.connections.clock import Clock, utc_now
from billbridge.connections.concurrency import InFlightLeases
from billbridge.connections.integrations import (
    Integration,
    get_integration,
    integrations_from_settings,
)
from billbridge.connections.login_policy import IDLE_TIMEOUT, REUSE_WINDOW
from billbridge.connections.paths import confine_path, is_spend_path
from billbridge.connections.proxy import Proxy
from billbridge.connections.sessions import LiveSession, SessionKeeper

__all__ = [
    "IDLE_TIMEOUT",
    "REUSE_WINDOW",
    "BillClients",
    "Clock",
    "InFlightLeases",
    "Integration",
    "LiveSession",
    "Proxy",
    "SessionKeeper",
    "TransportFactory",
    "confine_path",
    "get_integration",
    "integrations_from_settings",
    "is_spend_path",
    "utc_now",
]

# Linking and auth webhooks.
from billbridge.connections.link_errors import (
    FieldProblem,
    LinkInputError,
    LinkRefusedError,
    login_failure,
)
from billbridge.connections.link_form import LinkForm, parse_link_form
from billbridge.connections.linking import (
    LinkOutcome,
    LinkTarget,
    check_session_allows,
    link_account,
    session_tags,
    target_from_session,
)
from billbridge.connections.webhooks import (
    SigningKey,
    WebhookSender,
    auth_body,
    signature_headers,
)

__all__ += [
    "FieldProblem",
    "LinkForm",
    "LinkInputError",
    "LinkOutcome",
    "LinkRefusedError",
    "LinkTarget",
    "SigningKey",
    "WebhookSender",
    "auth_body",
    "check_session_allows",
    "link_account",
    "login_failure",
    "parse_link_form",
    "session_tags",
    "signature_headers",
    "target_from_session",
]
