"""The server's log output: structlog and stdlib records alike, with secrets redacted."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import structlog

from billbridge.cli._logging import REDACTED, configure_logging

TOKEN = "nango_connect_session_" + "ab" * 32
NAMES = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "aiosqlite", "asyncio", "httpcore", "httpx")
NAMES += ("hpack", "alembic", "sqlalchemy", "aiohttp")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back for the other tests."""
    saved = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).level) for name in NAMES}
    propagate = {name: logging.getLogger(name).propagate for name in NAMES}
    yield
    for name, (handlers, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers = handlers
        logger.setLevel(level)
        logger.propagate = propagate[name]
    structlog.reset_defaults()


def _capture() -> tuple[io.StringIO, object]:
    stream = io.StringIO()
    redactor = configure_logging("DEBUG", stream=stream)
    return stream, redactor


def test_secret_fields_and_patterns_are_redacted() -> None:
    stream, redactor = _capture()
    redactor.add(["the-known-secret-key"])  # type: ignore[attr-defined]
    log = structlog.get_logger("billbridge.test")

    log.info("linking", password="hunter22", dev_key="DK123456", session_id="S999", username="ap@acme.test")
    log.warning("oops", detail=f"token {TOKEN} and Bearer the-known-secret-key and ?password=x1&y=2")
    path = f"/auth/bill/bill?connect_session_token={TOKEN}"
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "POST", path, "1.1", 200)
    logging.getLogger("aiosqlite").debug("executing INSERT with parameters")

    text = stream.getvalue()
    for secret in ("hunter22", "DK123456", "S999", TOKEN, "the-known-secret-key", "x1"):
        assert secret not in text
    assert "ap@acme.test" in text  # identifiers stay readable
    assert text.count(REDACTED) >= 6
    assert "POST /auth/bill/bill?connect_session_token=" in text
    assert "executing INSERT" not in text  # chatty libraries speak from WARNING only


def test_tracebacks_are_plain_and_redacted() -> None:
    stream, _ = _capture()
    secret_local = "local-password-value"  # a rich traceback would print this local variable
    try:
        raise ValueError(f"failed for {TOKEN}")
    except ValueError:
        structlog.get_logger("billbridge.test").exception("boom")

    text = stream.getvalue()
    assert "Traceback" in text
    assert TOKEN not in text
    assert secret_local not in text
