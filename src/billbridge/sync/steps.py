"""The durable steps of a sync run: each stored page is one DBOS step.

A step fetches one page, stores it (with the checkpoint, in one transaction) and returns the cursor
after it. DBOS records that output; a run resumed after a crash replays recorded steps from their
outputs and carries on from the first unrecorded one, so no stored page is fetched again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from dbos import DBOS

from billbridge.errors import (
    BillServerError,
    BillTransportError,
    ConcurrencyLimitError,
    LoginCooldownError,
    RateLimitError,
)
from billbridge.store import Clock, utc_now
from billbridge.store.records import PageCounts, RecordRepository
from billbridge.store.sync_state import SyncCheckpoint, SyncStateRepository
from billbridge.sync.cursor import Cursor, advance, query
from billbridge.sync.definitions import get_sync
from billbridge.sync.fetch import PageFetcher
from billbridge.sync.windows import newest_query

# Retries of a step on what BILL or the network may cure by itself, on top of the client's own.
STEP_ATTEMPTS: Final = 6


@dataclass(eq=False)
class StepContext:
    """What the steps of this process use (set once DBOS is launched; DBOS itself is per process)."""

    fetcher: PageFetcher
    records: RecordRepository
    states: SyncStateRepository
    clock: Clock = utc_now
    overlap: timedelta = timedelta(seconds=5)
    windows: int = 12
    pause_poll: float = 60.0
    # Sends a sync webhook: (connection pk, sync name, outcome) -> taken.
    webhook: Callable[[int, str, dict[str, Any]], Awaitable[bool]] | None = None
    # Called with (connection pk, sync name, records stored) after every page (progress bars).
    progress: list[Callable[[int, str, int], None]] = field(default_factory=list)


_context: StepContext | None = None


def install(context: StepContext | None) -> None:
    """Make ``context`` the one the steps of this process use."""
    global _context
    _context = context


def context() -> StepContext:
    if _context is None:
        raise RuntimeError("the sync engine is not running in this process")
    return _context


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, BillTransportError | BillServerError | ConcurrencyLimitError | LoginCooldownError)


def _counts(counts: PageCounts) -> dict[str, int]:
    return {"added": counts.added, "updated": counts.updated, "deleted": counts.deleted}


def _paused(exc: RateLimitError) -> dict[str, Any]:
    return {"pause_until": exc.reset_at.isoformat()}


@DBOS.step(
    name="billbridge.sync.page", retries_allowed=True, max_attempts=STEP_ATTEMPTS, should_retry=_transient
)
async def store_page(
    connection_pk: int, sync: str, cursor: dict[str, Any], run_id: str, save_checkpoint: bool
) -> dict[str, Any]:
    """Fetch and store the page at ``cursor``; returns ``{next, counts, records}`` or ``{pause_until}``.

    ``next`` is None once the walk is finished. With ``save_checkpoint`` the cursor's high-water
    mark is saved with the page (single-walk runs; windowed runs save it when every window is done).
    """
    ctx = context()
    definition = get_sync(sync)
    at = Cursor.from_json(cursor)
    conn = await ctx.fetcher.connection(connection_pk)
    params = query(at, page_size=definition.page_size, keyset=definition.incremental)
    try:
        page = await ctx.fetcher.fetch(conn, definition, params)
    except RateLimitError as exc:
        return _paused(exc)
    step = advance(at, page, keyset=definition.incremental)
    checkpoint = None
    high = step.high
    if save_checkpoint and definition.incremental and high is not None:
        checkpoint = SyncCheckpoint(name=sync, value={"updatedTime": high})
    counts = await ctx.records.upsert_page(
        connection_pk, definition.model, step.records, run_id=run_id, checkpoint=checkpoint
    )
    for listener in ctx.progress:
        listener(connection_pk, sync, len(step.records))
    return {
        "next": step.next.to_json() if step.next else None,
        "high": high,
        "counts": _counts(counts),
        "records": len(step.records),
    }


@DBOS.step(
    name="billbridge.sync.newest", retries_allowed=True, max_attempts=STEP_ATTEMPTS, should_retry=_transient
)
async def newest_time(connection_pk: int, sync: str) -> dict[str, Any]:
    """The latest ``updatedTime`` of the list (to cut windows), or ``{pause_until}``."""
    ctx = context()
    definition = get_sync(sync)
    conn = await ctx.fetcher.connection(connection_pk)
    try:
        page = await ctx.fetcher.fetch(conn, definition, newest_query())
    except RateLimitError as exc:
        return _paused(exc)
    stamps = [r.get("updatedTime") for r in page.results if isinstance(r.get("updatedTime"), str)]
    return {"newest": stamps[0] if stamps else None}


@DBOS.step(name="billbridge.sync.now")
async def now_text() -> str:
    """The engine clock's time, recorded so a replay sees the same value."""
    return context().clock().isoformat()


def remaining(pause_until: str, now: datetime) -> float:
    """Seconds left before ``pause_until`` (ISO text)."""
    return (datetime.fromisoformat(pause_until) - now).total_seconds()
