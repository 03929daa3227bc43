"""``/openapi.json`` describes every public route as it answers: bodies, parameters, the error
envelope, 400 rather than FastAPI's 422, and the proxy with its headers."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from web_harness import Api

from billbridge.web.openapi import INTEGRATION_KEYS

ROUTES = {
    ("post", "/connect/sessions"),
    ("post", "/connect/sessions/reconnect"),
    ("get", "/connect/session"),
    ("delete", "/connect/session"),
    ("post", "/auth/bill/{provider_config_key}"),
    ("get", "/connections"),
    ("post", "/connections/metadata"),
    ("patch", "/connections/metadata"),
    ("get", "/connections/{connection_id}"),
    ("delete", "/connections/{connection_id}"),
    ("patch", "/connections/{connection_id}"),
    ("get", "/integrations"),
    ("get", "/integrations/{unique_key}"),
    ("post", "/connect/mfa/challenge"),
    ("post", "/connect/mfa/validate"),
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/records"),
    ("post", "/sync/trigger"),
    ("post", "/sync/start"),
    ("post", "/sync/pause"),
    ("get", "/sync/status"),
    ("put", "/sync/update-connection-frequency"),
    *((method, "/proxy/{path}") for method in ("get", "post", "put", "patch", "delete")),
}


@pytest.fixture
async def document(api: Api) -> dict[str, Any]:
    answer = await api.anon.get("/openapi.json")
    assert answer.status_code == 200
    doc: dict[str, Any] = answer.json()
    return doc


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): op for path, item in document["paths"].items() for method, op in item.items()}


def _parameters(op: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {parameter["name"]: parameter for parameter in op.get("parameters", [])}


def test_every_public_route_is_described(document: dict[str, Any]) -> None:
    assert set(_operations(document)) == ROUTES


def test_no_operation_declares_fastapis_422(document: dict[str, Any]) -> None:
    for (method, path), op in _operations(document).items():
        assert "422" not in op["responses"], (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_errors_use_the_envelope_and_every_route_answers_400_or_none(document: dict[str, Any]) -> None:
    envelope = "#/components/schemas/ErrorEnvelope"
    for (method, path), op in _operations(document).items():
        if path in {"/health", "/metrics"}:
            continue
        assert "400" in op["responses"], (method, path)
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                refs = [schema.get("$ref")] + [branch.get("$ref") for branch in schema.get("anyOf", [])]
                assert envelope in refs, (method, path, status)
    detail = document["components"]["schemas"]["ErrorDetail"]
    assert set(detail["properties"]) == {"code", "message", "errors", "payload"}
    assert detail["required"] == ["code"]


def test_bodies_and_query_parameters_are_declared(document: dict[str, Any]) -> None:
    ops = _operations(document)
    body = ops[("post", "/connect/sessions")]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/SessionCreate"}
    session = document["components"]["schemas"]["SessionCreate"]
    assert session["additionalProperties"] is False
    assert {"end_user", "allowed_integrations", "tags"} <= set(session["properties"])
    link = ops[("post", "/auth/bill/{provider_config_key}")]
    assert link["requestBody"]["required"] is True
    assert link["security"] == [{"connectSessionTokenQuery": []}]
    assert set(_parameters(ops[("get", "/connections")])) >= {"search", "endUserId", "limit", "page"}
    get_one = _parameters(ops[("get", "/connections/{connection_id}")])
    assert get_one["provider_config_key"]["required"] is True
    assert get_one["provider_config_key"]["schema"]["enum"] == list(INTEGRATION_KEYS)
    assert "force_refresh" in get_one


def test_the_proxy_documents_its_headers_and_idempotency(document: dict[str, Any]) -> None:
    ops = _operations(document)
    post = ops[("post", "/proxy/{path}")]
    headers = {name for name, p in _parameters(post).items() if p["in"] == "header"}
    assert {"Connection-Id", "Provider-Config-Key", "Retries", "Idempotency-Key"} <= headers
    assert "409" in post["responses"]
    assert "Idempotent-Replayed" in post["responses"]["2XX"]["headers"]
    get = ops[("get", "/proxy/{path}")]
    assert "Idempotency-Key" not in _parameters(get)
    assert get["security"] == [{"secretKey": []}]


def test_secured_routes_name_their_scheme(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    for (method, path), op in _operations(document).items():
        if path == "/health":
            assert "security" not in op
            continue
        assert op["security"], (method, path)
        for requirement in op["security"]:
            assert set(requirement) <= set(schemes), (method, path)


def test_schemathesis_reads_every_operation(document: dict[str, Any]) -> None:
    loaded = schemathesis.openapi.from_dict(document)
    results = list(loaded.get_all_operations())
    assert len(results) == len(ROUTES)
    assert all(result.ok() is not None for result in results)
