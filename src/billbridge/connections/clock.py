"""The keeper's notion of time: an injectable clock returning aware UTC datetimes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Treat a naive datetime (as SQLite hands them back) as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
