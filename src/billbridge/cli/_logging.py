"""Structured logs (structlog) for the server, with every known kind of secret redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"
# Field names whose values are always secret, whatever logs them.
_SECRET_KEYS = frozenset(
    {
        "password",
        "dev_key",
        "devkey",
        "session_id",
        "sessionid",
        "api_token",
        "apitoken",
        "secret",
        "secret_key",
        "authorization",
        "token",
        "connect_session_token",
        "session_token",
        "remember_me_id",
        "remembermeid",
        "encryption_key",
        "signing_key",
    }
)
# Secrets that can appear inside text: connect tokens, bearer values, query parameters.
_PATTERNS = (
    (re.compile(r"nango_connect_session_[0-9A-Fa-f]+"), "nango_connect_session_" + REDACTED),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',]+"), r"\1" + REDACTED),
    (
        re.compile(
            r"(?i)((?:session_token|connect_session_token|public_key|password|dev_?key|session_?id|"
            r"api_?token|token)=)[^&\s\"']+"
        ),
        r"\1" + REDACTED,
    ),
)


class Redactor:
    """Scrubs secrets from log events: by field name, by pattern, and by known value."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, values: Iterable[str | None]) -> None:
        """Also scrub these exact values (e.g. the API secret key) wherever they appear."""
        self._values.update(v for v in values if v and len(v) >= 6)

    def text(self, value: str) -> str:
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def __call__(self, _: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            if key.lower() in _SECRET_KEYS and value is not None:
                event[key] = REDACTED
            elif isinstance(value, str):
                event[key] = self.text(value)
            elif isinstance(value, tuple | list):
                event[key] = [self.text(v) if isinstance(v, str) else v for v in value]
        return event


REDACTOR = Redactor()


def configure_logging(level: str = "INFO", *, stream: Any = None) -> Redactor:
    """Send structlog and stdlib logging (uvicorn included) through one redacting renderer.

    Args:
        level: the minimum level (``BILLBRIDGE_LOG_LEVEL``).
        stream: where to write (standard error by default).

    Returns:
        The redactor, so callers can register exact secret values to scrub.
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    target = stream if stream is not None else sys.stderr
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks as plain text (a rich one would print local variables, which may hold
            # secrets), rendered before redaction so their text is scrubbed too.
            structlog.processors.format_exc_info,
            REDACTOR,
            structlog.dev.ConsoleRenderer(
                colors=bool(getattr(target, "isatty", lambda: False)()),
                exception_formatter=structlog.dev.plain_traceback,
            ),
        ],
    )
    handler = logging.StreamHandler(target)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    # Libraries whose debug output is noise at best and echoes SQL parameters or raw headers at
    # worst: they speak up only from WARNING, whatever the level.
    for name in ("aiosqlite", "asyncio", "httpcore", "httpx", "hpack", "alembic", "sqlalchemy", "aiohttp"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return REDACTOR
