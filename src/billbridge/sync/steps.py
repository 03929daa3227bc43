"""The durable steps of a sync run: a step stores several pages, each durable on its own.

A step fetches a page, stores it (with the checkpoint and the walk's position, in one transaction),
and goes on with the next, up to :data:`STEP_PAGES` pages or :data:`STEP_SECONDS`; it returns the
cursor after its last page. DBOS records that output; a run resumed after a crash replays recorded
steps from their outputs and carries on from the first unrecorded one, which starts after the last
page stored (the walk's position, ``store/walks.py``), so no stored page is fetched again.

Several pages per step: every step costs DBOS two transactions on its system database (look up
a recorded output, record this one) and two thread hops, more than storing a page of 100 records.

A window's step also decides when the window splits (``sync/windows.py``): after each page, if the
organization has fewer walks going than BILL's slots, the step ends at once and its output carries
the range it hands to a new window. The decision reads this process's walk counter, so it is made
here and recorded with the step's output: a replay starts the same window, a step run again after a
kill (nothing recorded) goes on from the last stored page and decides again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from dbos import DBOS

from billbridge.bill import MAX_IN_FLIGHT
from billbridge.errors import (
    BillServerError,
    BillTransportError,
    ConcurrencyLimitError,
    LoginCooldownError,
    RateLimitError,
)
from billbridge.store import Clock, utc_now
from billbridge.store.records import RecordRepository
from billbridge.store.sync_state import SyncCheckpoint, SyncStateRepository
from billbridge.store.walks import WalkPosition
from billbridge.sync.cursor import Cursor, advance, parse_time, query
from billbridge.sync.definitions import get_sync
from billbridge.sync.fetch import PageFetcher
from billbridge.sync.windows import WalkCounter, halve, newest_query

# Retries of a step on what BILL or the network may cure by itself, on top of the client's own.
STEP_ATTEMPTS: Final = 6
# Pages a step stores at most, and for how long it starts new ones: a step's two records in DBOS's
# database then cost little per page, and a run's progress (read from the steps) moves every
# couple of seconds.
STEP_PAGES: Final = 50
STEP_SECONDS: Final = 2.0


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
    step_pages: int = STEP_PAGES
    step_seconds: float = STEP_SECONDS
    # Sends a sync webhook: (connection pk, sync name, outcome) -> taken.
    webhook: Callable[[int, str, dict[str, Any]], Awaitable[bool]] | None = None
    # Called with (connection pk, sync name, records stored) after every page (progress bars).
    progress: list[Callable[[int, str, int], None]] = field(default_factory=list)
    # The walks going per organization, and how many requests BILL lets one have in flight: a
    # window splits while the first is below the second.
    walks: WalkCounter = field(default_factory=WalkCounter)
    in_flight: int = MAX_IN_FLIGHT


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


def _counts(counts: dict[str, int]) -> dict[str, int]:
    return {key: counts.get(key, 0) for key in ("added", "updated", "deleted")}


def _paused(exc: RateLimitError) -> dict[str, Any]:
    return {"pause_until": exc.reset_at.isoformat()}


@DBOS.step(
    name="billbridge.sync.page", retries_allowed=True, max_attempts=STEP_ATTEMPTS, should_retry=_transient
)
async def store_page(
    connection_pk: int,
    sync: str,
    cursor: dict[str, Any],
    run_id: str,
    save_checkpoint: bool,
    max_pages: int | None = None,
    split: bool = False,
) -> dict[str, Any]:
    """Fetch and store pages from ``cursor`` on (at most ``max_pages``, default the context's);
    returns ``{next, high, counts, records, pages}``, or ``{pause_until}`` when not even the first
    page could be fetched.

    ``next`` is None once the walk is finished. With ``save_checkpoint`` the cursor's high-water
    mark is saved with each page (single-walk runs; windowed runs save it when every window is
    done). Run again (a retry, a resumed run), the step goes on after the last page it stored.

    With ``split`` (a window of a first run), the step ends after a page when the organization has
    fewer walks going than BILL's slots and the window's range left can be halved; the output then
    also has ``spawn``: ``{id, cursor}``, the workflow id and cursor of the window to start for
    the second half, while ``next`` keeps the first.

    A step given ``max_pages`` (the first page of a first run) is the whole of its walk for the
    walk counter: the run goes on in windows, so it stops counting as a walk when the step ends.
    """
    ctx = context()
    definition = get_sync(sync)
    walk_id, step_id = DBOS.workflow_id, DBOS.step_id
    assert walk_id is not None
    assert step_id is not None
    done = await ctx.records.walk(walk_id)
    if done is None or done.step != step_id:
        done = WalkPosition(walk_id, run_id, step_id, cursor)
    limit = ctx.step_pages if max_pages is None else max_pages
    conn = await ctx.fetcher.connection(connection_pk)
    organization = conn.credentials.organization_id
    spawn: dict[str, Any] | None = None
    ctx.walks.enter(organization, walk_id)
    try:
        deadline = time.monotonic() + ctx.step_seconds
        while (
            done.next is not None and done.pages < limit and (done.pages == 0 or time.monotonic() < deadline)
        ):
            at = Cursor.from_json(done.next)
            params = query(at, page_size=definition.page_size, keyset=definition.incremental)
            try:
                page = await ctx.fetcher.fetch(conn, definition, params)
            except RateLimitError as exc:
                if done.pages == 0:
                    return _paused(exc)
                break  # what is stored counts; the next step pauses
            step = advance(at, page, keyset=definition.incremental)
            checkpoint = None
            if save_checkpoint and definition.incremental and step.high is not None:
                checkpoint = SyncCheckpoint(name=sync, value={"updatedTime": step.high})
            following = replace(
                done,
                next=step.next.to_json() if step.next else None,
                high=step.high,
                records=done.records + len(step.records),
                pages=done.pages + 1,
            )
            counts = await ctx.records.upsert_page(
                connection_pk,
                definition.model,
                step.records,
                run_id=run_id,
                checkpoint=checkpoint,
                walk=following,
            )
            done = following.after(counts.added, counts.updated, counts.deleted)
            for listener in ctx.progress:
                listener(connection_pk, sync, len(step.records))
            if split and step.next is not None and ctx.walks.going(organization) < ctx.in_flight:
                halves = halve(step.next, last_page=_width(at, step.next))
                if halves is not None:
                    keep, rest = halves
                    spawn = {"id": f"{walk_id}-{step_id}s", "cursor": rest.to_json()}
                    ctx.walks.expect(organization, spawn["id"])
                    done = replace(done, next=keep.to_json())
                    break
    finally:
        ctx.walks.leave(organization, walk_id, finished=done.next is None or max_pages is not None)
    output = {
        "next": done.next,
        "high": done.high,
        "counts": _counts(done.counts),
        "records": done.records,
        "pages": done.pages,
    }
    if spawn is not None:
        output["spawn"] = spawn
    return output


def _width(before: Cursor, after: Cursor) -> timedelta | None:
    """The ``updatedTime`` range one page moved a cursor across (None if unknown)."""
    low, high = parse_time(before.since), parse_time(after.since)
    return None if low is None or high is None else high - low


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
