"""``GET /connect/ui/context``: what the page needs when its token arrived by postMessage."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from billbridge.web.connect_ui.context import page_context
from billbridge.web.deps import ConnectTokenDep, RuntimeDep

router = APIRouter()


@router.get("/connect/ui/context", include_in_schema=False)
async def ui_context(caller: ConnectTokenDep, services: RuntimeDep) -> JSONResponse:
    """The page context of the caller's connect session (``Authorization: Bearer <token>``).

    Returns:
        See :func:`billbridge.web.connect_ui.context.page_context`; never a secret.
    """
    body: dict[str, Any] = await page_context(
        caller.session,
        integrations=services.integrations,
        connections=services.connections,
        mfa_setting=services.settings.connect_mfa_required,
    )
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
