"""What one process knows about a connection's BILL session between database reads."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from billbridge.bill import SessionAuth
from billbridge.connections.clock import as_utc
from billbridge.connections.login_policy import IDLE_TIMEOUT, REUSE_WINDOW
from billbridge.store import Connection

INVALID_CREDENTIALS = "invalid_credentials"


@dataclass(slots=True, eq=False)
class CacheEntry:
    """The cached row of one connection plus the live facts only this process sees.

    ``last_used`` is exact for this process (set on every hand-out); ``recorded_use`` is what was
    last written to the database, so the keeper can write at most once a minute.
    """

    conn: Connection
    auth: SessionAuth | None
    generation: int
    last_used: datetime | None
    recorded_use: datetime | None
    loaded_at: datetime
    cooldown_until: datetime | None = None
    blocked_until: datetime | None = None
    refresh: asyncio.Task[None] | None = None
    extension: asyncio.Task[None] | None = None
    reload: asyncio.Task[None] | None = None
    recording: bool = False
    # When this process last used the entry (the cache evicts the least recently used).
    touched: datetime = field(default_factory=lambda: datetime.min.replace(tzinfo=UTC))

    @property
    def is_invalid(self) -> bool:
        return self.conn.status == INVALID_CREDENTIALS

    def usable(self, now: datetime, min_validity: timedelta | None = None) -> bool:
        """Whether the session may be handed out at ``now`` (and stay usable ``min_validity``)."""
        if self.auth is None or self.last_used is None:
            return False
        horizon = now if min_validity is None else now + min_validity
        return horizon - self.last_used < REUSE_WINDOW

    def expires_at(self) -> datetime | None:
        """When BILL ends the session if nobody uses it again."""
        return None if self.last_used is None else self.last_used + IDLE_TIMEOUT


def new_entry(conn: Connection, now: datetime) -> CacheEntry:
    """Cache a connection read from the database."""
    entry = CacheEntry(
        conn=conn, auth=None, generation=-1, last_used=None, recorded_use=None, loaded_at=now, touched=now
    )
    merge(entry, conn, now)
    return entry


def merge(entry: CacheEntry, fresh: Connection, now: datetime) -> None:
    """Fold a fresh database read into the entry; the database wins except on newer local use.

    A different generation or session id means another process logged in (or the connection was
    re-linked), so the stored session replaces ours; otherwise the later of both uses counts.
    """
    state = fresh.session
    stored_use = _latest(state.last_used_at, state.started_at)
    same_session = (
        entry.auth is not None
        and state.session_id is not None
        and state.generation == entry.generation
        and state.session_id.get_secret_value() == entry.auth.session_id.get_secret_value()
    )
    if same_session:
        entry.last_used = _latest(entry.last_used, stored_use)
    else:
        entry.generation = state.generation
        entry.last_used = stored_use
        entry.auth = (
            None
            if state.session_id is None
            else SessionAuth(
                dev_key=fresh.credentials.dev_key,
                session_id=state.session_id,
                organization_id=fresh.credentials.organization_id,
            )
        )
    entry.recorded_use = _latest(entry.recorded_use, stored_use) if same_session else stored_use
    entry.conn = fresh
    entry.cooldown_until = None if fresh.cooldown_until is None else as_utc(fresh.cooldown_until)
    entry.loaded_at = now


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    values = [as_utc(v) for v in (a, b) if v is not None]
    return max(values) if values else None
