"""An unexpected failure answers 500 with a request id, and logs its type, never its values."""

from __future__ import annotations

import logging

import pytest
import structlog
from sqlalchemy import text
from web_harness import Api

SECRET_SEARCH = "jane.private@example.com"


async def test_a_database_failure_logs_its_type_and_a_request_id_only(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    # A real failure: the table the list reads is gone, and the statement carries the search term.
    async with api.runtime.db.transaction() as session:
        await session.execute(text("ALTER TABLE connections RENAME TO connections_gone"))
    caplog.set_level(logging.INFO)  # a server at its default level (debug silences drivers)

    with structlog.testing.capture_logs() as logs:
        response = await api.client.get("/connections", params={"search": SECRET_SEARCH})

    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "server_error"
    request_id = response.headers["x-request-id"]
    assert request_id in error["message"]
    failures = [entry for entry in logs if entry["event"] == "unexpected_error"]
    assert len(failures) == 1
    assert failures[0]["request_id"] == request_id
    assert failures[0]["error_type"] == "OperationalError"
    # The test's own HTTP client logs the URL it requested; the server's records are the others.
    server_lines = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    everything = repr(logs) + repr(server_lines) + response.text
    assert SECRET_SEARCH.split("@")[0] not in everything


async def test_the_database_engine_hides_statement_parameters(api: Api) -> None:
    async with api.runtime.db.transaction() as session:
        await session.execute(text("ALTER TABLE connections RENAME TO connections_gone"))

    with pytest.raises(Exception) as caught:
        await api.runtime.connections.list(search=SECRET_SEARCH)

    assert "jane.private" not in str(caught.value)
