"""The hosted Connect UI: the page where an end user links a BILL account.

Routes: ``GET /`` and ``GET /connect`` (the page), ``GET /connect/static/{name}``,
``GET /connect/ui/context`` and ``POST /connect/mfa/{challenge,validate}`` (called by the page
with the connect session token as ``Authorization: Bearer``).
"""

from __future__ import annotations

from fastapi import APIRouter

from billbridge.web.connect_ui import mfa, pages, session_api

router = APIRouter(tags=["connect-ui"])
router.include_router(pages.router)
router.include_router(session_api.router)
router.include_router(mfa.router)

__all__ = ["router"]
