"""The proxy's part of the OpenAPI document (its route is raw ASGI, which FastAPI cannot describe)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from billbridge.web.openapi import ERROR_TEXT, INTEGRATION_KEYS, SECRET_KEY, header

PATH = "/proxy/{path}"
_WRITES = ("post", "put", "patch")
_METHODS = ("get", "delete", *_WRITES)
# Statuses billbridge answers itself; BILL's own answers may carry them too, in BILL's shape.
_OWN_STATUSES = (400, 401, 404, 413, 429, 502, 503, 504)


class BillError(BaseModel):
    """One entry of BILL's error list (``[{"code": "BDC_1120", "message": ...}]``)."""

    code: str
    message: str = ""


_PARAMETERS = [
    {
        "name": "path",
        "in": "path",
        "required": True,
        "description": "BILL's API path after `/connect`, under `v3/` (e.g. `v3/vendors`). The query "
        "string is passed to BILL as it is. `devKey` and `sessionId` (or `apiToken` for "
        "`v3/spend/...`) are added by billbridge.",
        "schema": {"type": "string"},
        "example": "v3/vendors",
    },
    header("Connection-Id", "The connection's id.", minLength=1),
    header("Provider-Config-Key", "The connection's integration.", enum=list(INTEGRATION_KEYS)),
    header(
        "Retries",
        "Retries allowed where safe (reads, and requests BILL certainly did not process): 0 to 10.",
        required=False,
        pattern="^0*([0-9]|10)$",
    ),
    header(
        "Base-Url-Override",
        "Empty, or the gateway of a configured BILL environment of the connection's own.",
        required=False,
    ),
    header(
        "Decompress",
        "`true` or `false` (Nango's; accepted, BILL's answers are decoded anyway).",
        required=False,
        enum=["true", "false"],
    ),
    header(
        "Retry-On",
        "Comma-separated status codes (Nango's; accepted).",
        required=False,
        pattern="^[0-9]{3}(,[0-9]{3})*$",
    ),
]
_IDEMPOTENCY = header(
    "Idempotency-Key",
    "Makes a write happen once: the first answer is kept 24 hours and replayed (with "
    "`Idempotent-Replayed: true`) for the same key and request; another request with the key gets "
    "409. Printable ASCII, at most 255 characters; never forwarded to BILL.",
    required=False,
    minLength=1,
    maxLength=255,
)


_ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}
_BILL_ERRORS = {"type": "array", "items": {"$ref": "#/components/schemas/BillError"}}


def _passed_through(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"anyOf": [_ENVELOPE, _BILL_ERRORS]}}},
    }


def _operation(method: str) -> dict[str, Any]:
    write = method in _WRITES
    responses: dict[str, Any] = {
        "2XX": {
            "description": "BILL's answer, passed through: status, body and content type.",
            "content": {"application/json": {"schema": {}}},
        }
    }
    for status in (*_OWN_STATUSES, 409) if write else _OWN_STATUSES:
        responses[str(status)] = _passed_through(
            f"billbridge's envelope: {ERROR_TEXT[status]} Or BILL's own answer with this status, "
            "passed through as BILL's error list."
        )
    responses["default"] = _passed_through("Any other status BILL answered with, passed through.")
    if write:
        responses["2XX"]["headers"] = {
            "Idempotent-Replayed": {
                "description": "`true` on a stored answer replayed for a repeated `Idempotency-Key`.",
                "schema": {"type": "string", "enum": ["true"]},
            }
        }
    op: dict[str, Any] = {
        "tags": ["proxy"],
        "summary": f"Call BILL for a connection ({method.upper()})",
        "operationId": f"proxy_{method}",
        "security": [{SECRET_KEY: []}],
        "parameters": [*_PARAMETERS, _IDEMPOTENCY] if write else list(_PARAMETERS),
        "responses": responses,
    }
    if method != "get":
        op["requestBody"] = {
            "required": False,
            "description": (
                "Passed to BILL as it is (JSON, form, XML or binary), up to "
                "BILLBRIDGE_PROXY_MAX_BODY_BYTES (16 MiB; 413 above). A body of at most 1 MiB is "
                "held, so it can be retried; a longer one is relayed as it arrives and sent once "
                "(no retries), unless an Idempotency-Key is given (then it is held whole)."
            ),
            "content": {"application/json": {"schema": {}}},
        }
    return op


def add_proxy(document: dict[str, Any]) -> None:
    """Describe ``/proxy/{path}`` in ``document`` (and BILL's error list in its components; the
    envelope's schema is there already)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("BillError", BillError.model_json_schema())
    document.setdefault("paths", {})[PATH] = {method: _operation(method) for method in _METHODS}
