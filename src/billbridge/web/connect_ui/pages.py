"""The Connect UI page (``/``, ``/connect``) and its static files (``/connect/static/...``)."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from billbridge.web.connect_ui.context import expired_context, page_context
from billbridge.web.connect_ui.security import asset_headers, page_headers
from billbridge.web.deps import RuntimeDep

router = APIRouter()

_HERE = Path(__file__).parent
_STATIC = _HERE / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
_templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
@router.get("/connect", response_class=HTMLResponse, include_in_schema=False)
@router.get("/connect/", response_class=HTMLResponse, include_in_schema=False)
async def connect_page(request: Request, services: RuntimeDep) -> HTMLResponse:
    """The page. With ``?session_token=`` it renders for that session; without, it waits for
    the token by postMessage (how ``openConnectUI`` loads it, as ``/?apiURL=...``).

    ``apiURL`` is ignored on purpose: the page only ever talks to the server that served it, so a
    crafted link cannot send typed credentials elsewhere.
    """
    token = request.query_params.get("session_token")
    context: dict[str, Any] | None = None
    status = 200
    if token is not None:
        session = await services.connect_sessions.get_by_token(token)
        if session is None:
            context, status = expired_context(), 401
        else:
            context = await page_context(
                session,
                integrations=services.integrations,
                connections=services.connections,
                mfa_setting=services.settings.connect_mfa_required,
            )
    html = _render(request, context)
    return HTMLResponse(
        html, status_code=status, headers=page_headers(services.settings.connect_frame_ancestors)
    )


def _render(request: Request, context: dict[str, Any] | None) -> str:
    base = str(request.scope.get("root_path", "")).rstrip("/")
    integrations = (context or {}).get("integrations") or []
    # One environment is known in advance: render its wording now, so nothing shifts on load.
    environment = integrations[0]["environment"] if len(integrations) == 1 else None
    reconnect = (context or {}).get("reconnect") or {}
    return _templates.get_template("connect.html").render(
        base=base,
        static_base=f"{base}/connect/static",
        context=context,
        environment=environment,
        environment_label={"production": "Production", "sandbox": "Sandbox"}.get(environment or "", ""),
        prefill={
            "username": reconnect.get("username", ""),
            "organization_id": reconnect.get("organizationId", ""),
        },
    )


@cache
def _assets() -> dict[str, tuple[bytes, str, str]]:
    """The shipped files by name, read once: only these names are ever served."""
    assets: dict[str, tuple[bytes, str, str]] = {}
    for path in _STATIC.iterdir():
        media_type = _TYPES.get(path.suffix)
        if media_type is not None and path.is_file():
            body = path.read_bytes()
            assets[path.name] = (body, media_type, '"' + hashlib.sha256(body).hexdigest()[:16] + '"')
    return assets


@router.get("/connect/static/{name}", include_in_schema=False)
async def static_file(name: str, request: Request) -> Response:
    """A file of the page (JavaScript modules, CSS, icon), with an ETag for cheap revalidation."""
    asset = _assets().get(name)
    if asset is None:
        return Response(status_code=404, headers=asset_headers())
    body, media_type, etag = asset
    headers = {**asset_headers(), "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
