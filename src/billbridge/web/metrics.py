"""``GET /metrics``: Prometheus metrics, behind the secret key like the rest of the API."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import PlainTextResponse, Response

from billbridge.web.deps import RuntimeDep, require_secret_key
from billbridge.web.openapi import errors, operation

router = APIRouter(tags=["metrics"], dependencies=[Depends(require_secret_key)])


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "Prometheus' text format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **errors(401),
    },
    openapi_extra=operation(),
)
async def metrics(services: RuntimeDep) -> Response:
    """Every metric in Prometheus' text format (``Authorization: Bearer <secret key>``)."""
    return Response(await services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
