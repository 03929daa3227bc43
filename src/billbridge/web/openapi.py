"""The OpenAPI document, true to how the routes answer.

Routes read their JSON bodies and query strings themselves (strict keys, ASCII-only numbers, 400
with Nango's envelope, never FastAPI's 422), so each route declares what it takes with
:func:`operation` in ``openapi_extra`` and what it answers with ``responses=``; this module holds
those helpers, the error envelope's schema, and :func:`install_openapi`, which adds the proxy
(a raw ASGI route, see :mod:`billbridge.web.proxy_openapi`) and drops FastAPI's validation
answers, which this app never gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

# Security schemes: the API's secret key and connect session tokens, both as Bearer values.
SECRET_KEY = "secretKey"
CONNECT_TOKEN = "connectSessionToken"
CONNECT_TOKEN_QUERY = "connectSessionTokenQuery"
SECURITY_SCHEMES: dict[str, Any] = {
    SECRET_KEY: {
        "type": "http",
        "scheme": "bearer",
        "description": "The API's secret key (`BILLBRIDGE_SECRET_KEY`; @nangohq/node's `secretKey`).",
    },
    CONNECT_TOKEN: {
        "type": "http",
        "scheme": "bearer",
        "description": "A connect session token from `POST /connect/sessions` (Connect UI routes).",
    },
    CONNECT_TOKEN_QUERY: {
        "type": "apiKey",
        "in": "query",
        "name": "connect_session_token",
        "description": "A connect session token, as @nangohq/frontend's `auth()` sends it.",
    },
}
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
# The built-in integrations (nango-compat §10); any other key is refused with 400 or 404.
INTEGRATION_KEYS = ("bill", "bill-sandbox")
INTEGRATION_KEY: dict[str, Any] = {"type": "string", "enum": list(INTEGRATION_KEYS)}


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return list(schema.get("anyOf", [schema]))


def is_integration_key(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` of a field that names an integration (documentation only)."""
    for branch in _branches(schema):
        if branch.get("type") == "string":
            branch["enum"] = list(INTEGRATION_KEYS)


def lists_integration_keys(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` of a non-empty list of integration keys."""
    for branch in _branches(schema):
        if branch.get("type") == "array":
            branch["items"] = dict(INTEGRATION_KEY)
            branch["minItems"] = 1


def keyed_by_integration(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` of an object whose keys are integration keys."""
    for branch in _branches(schema):
        if branch.get("type") == "object":
            branch["propertyNames"] = dict(INTEGRATION_KEY)


class ErrorIssue(BaseModel):
    """One problem of a request: what is wrong, and where (field names and list positions)."""

    code: str
    message: str
    path: list[str | int]


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable, machine-readable code (e.g. `invalid_body`).")
    message: str = Field(default="", description="What went wrong and how to fix it.")
    errors: list[ErrorIssue] = Field(default_factory=list, description="Each problem, by field.")
    payload: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    """Nango's error envelope: ``{"error": {"code", "message", "errors"?, "payload"?}}``."""

    error: ErrorDetail


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}}
ERROR_TEXT: Mapping[int, str] = {
    400: "A malformed or unknown input (`invalid_body`, `invalid_query_params`, `invalid_headers`, "
    "`unknown_connection`...), named in `errors`.",
    401: "Missing, malformed or unknown credentials (`missing_auth_header`, `unknown_account`, "
    "`unknown_connect_session_token`...).",
    403: "BILL needs an MFA-trusted session for this call (`untrusted_session`).",
    404: "No such integration or connection.",
    409: "The `Idempotency-Key` was used for another request, its first request still runs, or its "
    "answer was too large to keep.",
    413: "The body is larger than the configured limit (`payload_too_large`).",
    415: "A `Content-Type` other than JSON (`invalid_content_type`).",
    424: "The connection cannot be used until it is re-linked, or until its login cooldown ends.",
    429: "Too many attempts with this connect session, or BILL's hourly budget is spent.",
    502: "BILL failed, refused what billbridge sent, or could not be reached.",
    503: "BILL's limit of requests in flight for the organization stayed full.",
    504: "BILL did not answer in time.",
}
_WITH_RETRY_AFTER = {424, 429, 503}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for these error statuses, each with the envelope's schema as JSON
    (spelt out rather than given as a model, which FastAPI would file under a route's non-JSON
    media type)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "description": ERROR_TEXT[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
        }
        if status in _WITH_RETRY_AFTER:
            entry["headers"] = _RETRY_AFTER
        out[status] = entry
    return out


def ok(model: type[BaseModel], description: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry of a success answer."""
    return {status: {"model": model, "description": description}}


def query(
    name: str, description: str, *, required: bool = False, schema: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One query parameter of a route that reads its query string itself."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": dict(schema or {"type": "string"}),
    }


def header(name: str, description: str, *, required: bool = True, **schema: Any) -> dict[str, Any]:
    """One header parameter (``schema`` adds JSON Schema keywords to ``{"type": "string"}``)."""
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string", **schema},
    }


def operation(
    *,
    security: str | None = SECRET_KEY,
    body: type[BaseModel] | None = None,
    body_required: bool = False,
    parameters: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """``openapi_extra`` of a route: how it authenticates, its JSON body and its query parameters.

    The body's schema is registered by :func:`install_openapi` (see :data:`BODY_MODELS`).
    """
    extra: dict[str, Any] = {}
    if security is not None:
        extra["security"] = [{security: []}]
    if body is not None:
        BODY_MODELS[body.__name__] = body
        extra["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}},
        }
    if parameters:
        extra["parameters"] = [dict(p) for p in parameters]
    return extra


# Models of bodies routes parse themselves, registered by operation(); added to the components.
BODY_MODELS: dict[str, type[BaseModel]] = {}


def install_openapi(app: FastAPI, *, extra_paths: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Make ``app.openapi()`` build the true document once.

    Args:
        app: the application.
        extra_paths: adds what FastAPI cannot see (the raw proxy route) to the built document.
    """

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for model in BODY_MODELS.values():
            _add_model(schemas, model)
        _add_model(schemas, ErrorEnvelope)
        components["securitySchemes"] = SECURITY_SCHEMES
        for path_item in document.get("paths", {}).values():
            for op in path_item.values():
                op.get("responses", {}).pop("422", None)
        for name in _VALIDATION_SCHEMAS:
            schemas.pop(name, None)
        if extra_paths is not None:
            extra_paths(document)
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]


def _add_model(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    """Put ``model`` and the models it uses into ``components/schemas``."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault(model.__name__, schema)
