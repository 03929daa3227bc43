"""``create_app``: the simulator as a Starlette ASGI application."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from billbridge.simulator.config import SimConfig
from billbridge.simulator.errors import SimError, error_body
from billbridge.simulator.routes import control, webhook_control
from billbridge.simulator.routes.api import api_endpoint
from billbridge.simulator.routes.connect_events import events_endpoint
from billbridge.simulator.state import SimState

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


async def _not_supported(request: Request, exc: Exception) -> Response:
    # BILL answers unknown paths (and wrong letter case) with BDC_1121 and HTTP 404.
    state: SimState = request.app.state.sim
    error = SimError("BDC_1121")
    state.stats.errors[error.code] += 1
    return Response(
        error_body(error, timestamp=state.timestamp()), status_code=404, media_type="application/json"
    )


def create_app(config: SimConfig | None = None) -> Starlette:
    """Build a simulator.

    Args:
        config: The world and behaviour to simulate (defaults to ``SimConfig()``).

    Returns:
        A Starlette app whose root is the gateway root: ``/connect/v3/...``,
        ``/connect/v3/spend/...``, ``/connect-events/v3/...`` and the ``/_sim/...`` control surface.
        ``app.state.sim`` holds the ``SimState``.
    """
    routes = [
        Route("/connect/v3/{path:path}", api_endpoint, methods=_METHODS),
        Route("/connect-events/v3/{path:path}", events_endpoint, methods=_METHODS),
        *control.ROUTES,
        *webhook_control.ROUTES,
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _not_supported})
    app.state.sim = SimState(config or SimConfig())
    return app
