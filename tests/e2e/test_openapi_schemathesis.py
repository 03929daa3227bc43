"""Schemathesis against ``billbridge serve`` on loopback, pointed at the BILL simulator: every
documented route, fuzzed from ``/openapi.json``, answers without a server error and as the
document says (status, content type, headers, body schema).

Bounded and deterministic: a fixed number of valid and of invalid examples per route from a
derandomized Hypothesis, so one run takes about a minute and sends the same cases every time.
Schemathesis's Python API drives it (``as_strategy`` per operation), which works with any pytest.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from e2e_stack import BILLBRIDGE
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from billbridge.cli.demo import demo_credentials
from support.processes import free_port, start, wait_http

pytestmark = pytest.mark.e2e

READY = r"listening on (http://127\.0\.0\.1:\d+)"
MAX_EXAMPLES = 25  # per route and mode (valid, invalid): about a minute in all
CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]
# Real BILL objects for proxied calls, so the fuzzed requests reach the simulator's families.
BILL_PATHS = ("v3/vendors", "v3/bills", "v3/customers", "v3/invoices", "v3/organizations")


@dataclass
class Live:
    api: str
    secret_key: str
    connection_id: str
    connect_token: str

    def new_connect_token(self) -> str:
        answer = httpx.post(
            f"{self.api}/connect/sessions",
            headers={"Authorization": f"Bearer {self.secret_key}"},
            json={"end_user": {"id": "fuzz"}},
            timeout=30,
        )
        token: str = answer.json()["data"]["token"]
        return token


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    work: Path = tmp_path_factory.mktemp("openapi")
    simulator = start(
        [BILLBRIDGE, "simulator", "--port", "0", "--records", "30", "--seed", "11"],
        log=work / "simulator.log",
        ready=READY,
    )
    secret_key = str(uuid.uuid4())
    server = None
    try:
        sim = simulator.ready.group(1)
        server = start(
            [BILLBRIDGE, "serve", "--port", "0"],
            log=work / "server.log",
            ready=READY,
            env={
                "BILLBRIDGE_DATA_DIR": str(work / "data"),
                "BILLBRIDGE_SECRET_KEY": secret_key,
                "BILLBRIDGE_BILL_SANDBOX_URL": sim,
                "BILLBRIDGE_BILL_PRODUCTION_URL": f"http://127.0.0.1:{free_port()}",
            },
        )
        api = server.ready.group(1)
        wait_http(f"{api}/health")
        world = httpx.get(f"{sim}/_sim/world", timeout=10).json()
        running = Live(api, secret_key, "", "")
        linked = httpx.post(
            f"{api}/auth/bill/bill-sandbox",
            params={"connect_session_token": running.new_connect_token()},
            json=demo_credentials(world),
            timeout=60,
        )
        assert linked.status_code == 200, linked.text
        running.connection_id = linked.json()["connectionId"]
        running.connect_token = running.new_connect_token()
        yield running
        assert "Traceback" not in server.text(), server.text()[-4000:]
    finally:
        for process in (server, simulator):
            if process is not None:
                process.stop()


@pytest.fixture(scope="module")
def api_schema(live: Live) -> Any:
    return schemathesis.openapi.from_url(f"{live.api}/openapi.json", timeout=30)


def _pick(value: object, choices: tuple[str, ...]) -> str:
    """A deterministic choice driven by the generated value (so Hypothesis still explores)."""
    digest = hashlib.sha256(repr(value).encode()).digest()
    return choices[digest[0] % len(choices)]


def _prepare(case: Case, live: Live) -> dict[str, str]:
    """Point the generated request at real things (the linked connection, a live connect token)
    in about half the cases, and return the headers that authenticate it."""
    path, method = case.operation.path, case.method.upper()
    real = _pick(case.path_parameters or case.query or case.body, ("real", "real", "generated")) == "real"
    headers = {"Authorization": f"Bearer {live.secret_key}"}
    if path == "/connect/session" or path.startswith("/connect/mfa"):
        token = live.new_connect_token() if method == "DELETE" else live.connect_token
        headers["Authorization"] = f"Bearer {token}"
    elif path.startswith("/auth/bill/"):
        headers = {}
        case.query = {**(case.query or {}), "connect_session_token": live.new_connect_token()}
        case.query.pop("connection_id", None)
    if path == "/connections/{connection_id}" and method != "DELETE" and real:
        case.path_parameters = {**(case.path_parameters or {}), "connection_id": live.connection_id}
        if case.query and "provider_config_key" in case.query:
            case.query["provider_config_key"] = "bill-sandbox"
    if path == "/connect/sessions/reconnect" and real and isinstance(case.body, dict):
        case.body.update(connection_id=live.connection_id, integration_id="bill-sandbox")
    if (
        path == "/connections/metadata"
        and real
        and isinstance(case.body, dict)
        and "connection_id" in case.body
    ):
        case.body["connection_id"] = live.connection_id
    if path == "/records" and real and case.headers and "Connection-Id" in case.headers:
        case.headers.update({"Connection-Id": live.connection_id, "Provider-Config-Key": "bill-sandbox"})
    if path.startswith("/sync/") and real and isinstance(case.body, dict):
        case.body.update(connection_id=live.connection_id, provider_config_key="bill-sandbox")
    if path == "/integrations/{unique_key}" and real:
        case.path_parameters = {"unique_key": "bill-sandbox"}
    if path == "/proxy/{path}":
        if case.headers and "Connection-Id" in case.headers and real:
            case.headers["Connection-Id"] = live.connection_id
            if "Provider-Config-Key" in case.headers:
                case.headers["Provider-Config-Key"] = "bill-sandbox"
        generated = str((case.path_parameters or {}).get("path", ""))
        if real:
            case.path_parameters = {"path": _pick(generated, BILL_PATHS)}
    return headers


def _fuzz(operation: Any, mode: GenerationMode, live: Live) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        headers = _prepare(case, live)
        case.call_and_validate(base_url=live.api, headers=headers, checks=CHECKS, timeout=60)

    run()


@pytest.mark.timeout(300)  # the hard bound; the run itself takes about a minute
def test_every_route_answers_as_documented(live: Live, api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    assert {"POST /proxy/{path}", "GET /connections", "POST /auth/bill/{provider_config_key}"} <= labels
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, live)
            except Unsatisfiable:
                # No invalid form exists when every input is free-form text (or there is none).
                assert mode is GenerationMode.NEGATIVE, operation.label
            except BaseException as exc:
                exc.add_note(f"while fuzzing {operation.label} with {mode.value} data")
                raise
