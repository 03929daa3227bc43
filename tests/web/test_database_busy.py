"""A database that stays locked past its busy timeout answers 503 with Retry-After, never 500."""

from __future__ import annotations

import sqlite3

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from billbridge.web.error_boundary import ErrorBoundary
from billbridge.web.errors import install_exception_handlers


def _app(error: Exception) -> FastAPI:
    app = FastAPI()
    install_exception_handlers(app)
    app.add_middleware(ErrorBoundary)

    @app.post("/write")
    async def write() -> None:
        raise error

    return app


async def _post(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://bb.test") as client:
        return await client.post("/write")


async def test_a_locked_database_answers_503_with_retry_after() -> None:
    locked = OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))
    answer = await _post(_app(locked))
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["error"]["code"] == "database_busy"


async def test_other_database_failures_stay_server_errors() -> None:
    broken = OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error"))
    answer = await _post(_app(broken))
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "server_error"
