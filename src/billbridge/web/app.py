"""The HTTP application: Nango-compatible API, proxy and Connect UI (``create_app``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from billbridge import __version__
from billbridge.connections import TransportFactory
from billbridge.connections.housekeeping import idempotency_purge, session_purge
from billbridge.runtime import SyncRole, open_runtime
from billbridge.settings import Settings, get_settings
from billbridge.web.api import auth, connect_sessions, connections, integrations, records, syncs
from billbridge.web.api.proxy import ENDPOINT as PROXY_ENDPOINT
from billbridge.web.api.proxy import is_plain_proxied, proxy_routes
from billbridge.web.api.proxy_openapi import add_proxy
from billbridge.web.connect_ui import router as connect_ui_router
from billbridge.web.error_boundary import ErrorBoundary
from billbridge.web.errors import install_exception_handlers
from billbridge.web.metrics import router as metrics_router
from billbridge.web.openapi import install_openapi, ok
from billbridge.web.request_guard import RequestGuard
from billbridge.web.responses import Health

# nango-compat §1: what browsers may send cross-origin (the frontend SDK and the Connect UI).
CORS_HEADERS = [
    "Authorization",
    "Content-Type",
    "Accept",
    "Origin",
    "X-Requested-With",
    "Nango-Activity-Log-Id",
    "Nango-Is-Dry-Run",
    "Nango-Is-Sync",
    "Provider-Config-Key",
    "Connection-Id",
    "Sentry-Trace",
    "Baggage",
]


DESCRIPTION = (
    "Nango-compatible API for BILL (Bill.com) connections: connect sessions, linking, connections, "
    "integrations and the proxy to BILL's v3 API. Every error answers with "
    '`{"error": {"code", "message", "errors"?, "payload"?}}`; malformed input is a 400 that names '
    "the field, never a 422."
)


class BillbridgeApp(FastAPI):
    """FastAPI, with plain proxied requests handed straight to the proxy (see ``is_plain_proxied``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_plain_proxied(scope):
            scope["app"] = self
            await PROXY_ENDPOINT(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    transport_factory: TransportFactory | None = None,
    sync_role: SyncRole = "none",
) -> FastAPI:
    """Build the app; its lifespan opens the runtime (every service) and closes it on shutdown.

    Args:
        settings: the configuration (``get_settings()`` when omitted).
        transport_factory: the BILL transport per integration (tests: the in-process simulator).
        sync_role: ``api`` launches the sync engine with the app (``billbridge serve``); ``none``
            leaves it out (an app embedded in tests or another process's event loop).

    Returns:
        The FastAPI app; ``app.state.runtime`` holds the :class:`Runtime` while it runs.
    """
    config = settings if settings is not None else get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_runtime(config, transport_factory=transport_factory, sync_role=sync_role) as runtime,
            session_purge(runtime.connect_sessions, every=config.connect_session_purge_seconds) as purge,
            idempotency_purge(runtime.idempotency.repository, every=config.connect_session_purge_seconds),
        ):
            app.state.runtime = runtime
            app.state.session_purge = purge
            yield

    app = BillbridgeApp(
        title="billbridge",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    # Express answers "/records/" like "/records"; both forms are registered instead of redirecting.
    app.router.redirect_slashes = False
    # First, so the hot route is matched without trying the others.
    app.router.routes.extend(proxy_routes())
    for router in (
        connect_sessions.router,
        auth.router,
        connections.router,
        integrations.router,
        records.router,
        syncs.router,
    ):
        app.include_router(router)
    app.include_router(connect_ui_router)
    app.include_router(metrics_router)
    app.add_api_route(
        "/health",
        health,
        methods=["GET"],
        tags=["health"],
        response_model=None,
        responses=ok(Health, "The process answers (no database or BILL call)."),
    )
    install_openapi(app, extra_paths=add_proxy)
    # Before every route, so a refused body is never read; inside CORS, so browsers see refusals
    # and unexpected errors (ErrorBoundary) alike. The proxy caps its bodies itself (it streams
    # large ones), whether a request comes through here or past the middleware.
    app.add_middleware(RequestGuard, max_body_bytes=config.max_body_bytes)
    app.add_middleware(ErrorBoundary)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=CORS_HEADERS,
        expose_headers=["X-Nango-Signature"],
        max_age=600,
    )
    install_exception_handlers(app)
    return app


async def health() -> dict[str, Any]:
    """Liveness: the process answers (no database or BILL call)."""
    return {"status": "ok", "version": __version__}
