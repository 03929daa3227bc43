"""Writing one page of records to SQLite: the diff read, the stream's change counter, the rows, the
checkpoint and the walk's position, as driver statements on the DB-API connection.

A page write on a SQLite file runs whole on a thread of its own (:class:`SqliteWriter`) with a plain
``sqlite3`` connection, one hop per page: the async driver hands every call to its thread and back
(about seventeen hops a page), and through SQLAlchemy each statement costs more interpreter time
than SQLite takes to run it. That thread is the one place page writes queue, so what it runs while
holding the interpreter lock decides how fast a sync stores: the statements here are constant text
prepared once by the driver, and the rows go in as one multi-row ``VALUES`` statement (no JSON to
parse per column, one step of the statement instead of one per row).

Pages that queue while the thread writes commit together (group commit): each page runs in a
savepoint of its own inside one transaction, so a page that fails is rolled back alone, and every
page's caller hears of it only once the transaction is committed. A commit appends every page the
transaction dirtied to the write-ahead log, and a page of records with BILL's ids (in no order)
dirties about a hundred pages of the id index: with a dozen windows paging side by side, a
transaction per page spent more time committing and taking the write lock than writing rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache
from typing import Any, Final, Protocol, TypeVar

import orjson
from sqlalchemy.engine import URL

from billbridge.store.db import prepare_sqlite_connection
from billbridge.store.record_bulk import COLUMNS, ON_CONFLICT
from billbridge.store.record_diff import PageCounts, Stored, diff, stamp
from billbridge.store.record_write import MissingSyncError, PageWrite
from billbridge.store.sqltypes import to_micros
from billbridge.store.walks import SAVE_SQLITE

T = TypeVar("T")

# Rows per INSERT: 11 parameters each stay well under SQLite's limit of 32,766 (since 3.32).
ROWS_PER_STATEMENT: Final = 500
# Ids per statement when reading stored hashes or marking records seen (one JSON array each).
IDS_PER_STATEMENT: Final = 5_000

# A page of records dirties about a hundred pages of the records' id index (its keys are BILL's
# ids, in no order), and each commit appends them all to the write-ahead log. Checkpointing every
# 1,000 log pages (SQLite's default, every few commits here) copied each of them into the database
# again; with a larger log, a checkpoint copies an index page once however often it changed since
# the last one (1,000,000 records: 16,800 -> 20,900 records/s, the writer's kernel time 16 -> 12 s).
CHECKPOINT_PAGES: Final = 65_536  # 256 MiB of 4 KiB pages
# After a checkpoint the log file is cut back to this size rather than left at its largest.
WAL_KEPT_BYTES: Final = 64 * 1024 * 1024
# The writer's page cache (SQLite's default is 2 MiB). A group of pages dirties a few hundred
# pages of the id index, more than the default holds: SQLite then spilled dirty pages to the log
# in mid-transaction and read index pages back from the file for every page of records. With
# 16 MiB a group's dirty pages and much of the index stay in memory (500,000 records, alternating
# runs: 17,100 and 15,200 -> 19,700 and 20,700 records/s; 32 MiB gained nothing more). The cache
# is full after some 20,000 records, so the writer's memory is the same at any size.
CACHE_KIB: Final = 16 * 1024
_STREAM: Final = "(SELECT id FROM record_streams WHERE connection_pk = ? AND model = ?)"
STORED: Final = (
    "SELECT external_id, data_hash, source_modified_us, deleted_us FROM records "  # noqa: S608
    f"WHERE stream_id = {_STREAM} AND external_id IN (SELECT value FROM json_each(?))"
)
MARK_SEEN: Final = (
    f"UPDATE records SET seen_run = ? WHERE stream_id = {_STREAM} "  # noqa: S608
    "AND external_id IN (SELECT value FROM json_each(?))"
)
# record_statements.ADVANCE with positional parameters.
ADVANCE: Final = (
    "INSERT INTO record_streams (connection_pk, model, last_seq, last_modified_us, record_count) "
    "VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (connection_pk, model) DO UPDATE SET "
    "last_seq = record_streams.last_seq + excluded.last_seq, "
    "last_modified_us = CASE WHEN record_streams.last_modified_us > excluded.last_modified_us "
    "THEN record_streams.last_modified_us ELSE excluded.last_modified_us END, "
    "record_count = record_streams.record_count + excluded.record_count "
    "RETURNING id, last_seq, last_modified_us"
)
# The checkpoint as SQLAlchemy stores it on SQLite: JSON text, naive UTC text with microseconds.
CHECKPOINT: Final = (
    "UPDATE sync_states SET checkpoint = ?, updated_at = ? WHERE connection_pk = ? AND name = ?"
)
_DATETIME_TEXT: Final = "%Y-%m-%d %H:%M:%S.%f"


class Cursor(Protocol):
    """What this module needs of a DB-API cursor (``sqlite3`` or the async driver's adapter)."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, parameters: Sequence[Any], /) -> Any: ...

    def fetchall(self) -> list[Any]: ...


@lru_cache(maxsize=ROWS_PER_STATEMENT)
def upsert_statement(rows: int) -> str:
    """The INSERT ... ON CONFLICT of ``rows`` rows (the driver keeps each text prepared)."""
    row = "(" + ", ".join("?" * len(COLUMNS)) + ")"
    return f"INSERT INTO records ({', '.join(COLUMNS)}) VALUES {', '.join([row] * rows)} {ON_CONFLICT}"  # noqa: S608


def write_page_sqlite(cursor: Cursor, page: PageWrite) -> PageCounts:
    """Diff the page against what is stored and write what changed, inside the cursor's transaction.

    One writer at a time on SQLite (BEGIN IMMEDIATE), so what is read here is exact.

    Raises:
        sqlite3.IntegrityError: the connection does not exist (any more).
        MissingSyncError: the checkpoint's sync does not exist.
    """
    key = (page.connection_pk, page.model)
    ids = list(page.incoming)
    stored: dict[str, Stored] = {}
    for start in range(0, len(ids), IDS_PER_STATEMENT):
        cursor.execute(STORED, (*key, orjson.dumps(ids[start : start + IDS_PER_STATEMENT]).decode()))
        for external_id, data_hash, source_modified_us, deleted_us in cursor.fetchall():
            stored[external_id] = Stored(data_hash, source_modified_us, deleted_us)
    rows, unchanged, counts = diff(page.incoming, stored, page.run_id)
    if rows:
        new_rows = sum(1 for row in rows if row["external_id"] not in stored)
        cursor.execute(ADVANCE, (*key, len(rows), to_micros(page.clock()), new_rows))
        [(stream_id, last_seq, instant)] = cursor.fetchall()
        stamp(rows, stream_id, last_seq - len(rows) + 1, instant)
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            cursor.execute(upsert_statement(len(chunk)), [row[column] for row in chunk for column in COLUMNS])
    if page.run_id is not None:
        for start in range(0, len(unchanged), IDS_PER_STATEMENT):
            seen = unchanged[start : start + IDS_PER_STATEMENT]
            cursor.execute(MARK_SEEN, (page.run_id, *key, orjson.dumps(seen).decode()))
    if page.checkpoint is not None:
        at = page.clock().astimezone(UTC).strftime(_DATETIME_TEXT)
        value = orjson.dumps(dict(page.checkpoint.value)).decode()
        cursor.execute(CHECKPOINT, (value, at, page.connection_pk, page.checkpoint.name))
        if not cursor.rowcount:
            raise MissingSyncError(
                f"sync {page.checkpoint.name!r} of connection {page.connection_pk} does not exist"
            )
    if page.walk is not None:
        walk = page.walk.after(counts.added, counts.updated, counts.deleted)
        params = walk.save_params(page.connection_pk, to_micros(page.clock()))
        cursor.execute(SAVE_SQLITE, tuple(params.values()))
    return counts


# Pages one transaction commits at most (a group waits for its slowest page's callers).
GROUP_MAX: Final = 32


@dataclass(frozen=True, slots=True)
class _Queued:
    work: Callable[[Cursor], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


@dataclass(frozen=True, slots=True)
class _Returned:
    value: Any


_Outcome = _Returned | Exception


def _settle(future: asyncio.Future[Any], outcome: _Outcome) -> None:
    if future.done():
        return  # the caller was cancelled (its page is written all the same)
    if isinstance(outcome, _Returned):
        future.set_result(outcome.value)
    else:
        future.set_exception(outcome)


class SqliteWriter:
    """Runs write transactions on a SQLite file on one thread of its own; calls that queue while it
    writes share one transaction, a savepoint each (see the module).

    Args:
        url: the database's URL (any SQLite driver; the file is what counts).
        busy_timeout_ms: how long to wait for another connection's write lock (other processes,
            or this process's other connections).
    """

    def __init__(self, url: URL, *, busy_timeout_ms: int) -> None:
        assert url.database
        self._connection = sqlite3.connect(
            url.database, timeout=busy_timeout_ms / 1000, check_same_thread=False, cached_statements=256
        )
        prepare_sqlite_connection(self._connection, busy_timeout_ms=busy_timeout_ms)
        self._connection.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
        self._connection.execute(f"PRAGMA journal_size_limit = {WAL_KEPT_BYTES}")
        self._connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="billbridge-records")
        self._guard = threading.Lock()
        self._queue: list[_Queued] = []
        self._draining = False  # a drain is submitted to the thread or running there
        #: Transactions committed (pages that queued together share one).
        self.commits = 0

    async def run(self, work: Callable[[Cursor], T]) -> T:
        """Run ``work`` inside a write transaction (BEGIN IMMEDIATE) and return its result once that
        transaction is committed; what ``work`` raises rolls back its own writes only."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._guard:
            self._queue.append(_Queued(work, future, loop))
            start = not self._draining
            self._draining = True
        if start:
            self._thread.submit(self._drain)
        return await future

    def _drain(self) -> None:
        """On the writer's thread: commit what is queued, a group at a time, until nothing is."""
        while True:
            with self._guard:
                group = self._queue[:GROUP_MAX]
                del self._queue[:GROUP_MAX]
                if not group:
                    self._draining = False
                    return
            for queued, outcome in zip(group, self._transact(group), strict=True):
                with contextlib.suppress(RuntimeError):  # its event loop is closed: nobody waits
                    queued.loop.call_soon_threadsafe(_settle, queued.future, outcome)

    def _transact(self, group: Sequence[_Queued]) -> list[_Outcome]:
        cursor = self._connection.cursor()
        outcomes: list[_Outcome] = []
        try:
            # IMMEDIATE: a deferred read-then-write transaction fails at once with SQLITE_BUSY when
            # another connection wrote meanwhile.
            cursor.execute("BEGIN IMMEDIATE")
            for queued in group:
                cursor.execute("SAVEPOINT page")
                try:
                    outcomes.append(_Returned(queued.work(cursor)))
                except Exception as exc:
                    cursor.execute("ROLLBACK TO page")
                    outcomes.append(exc)
                cursor.execute("RELEASE page")
            cursor.execute("COMMIT")
            self.commits += 1
            return outcomes
        except BaseException as exc:
            if self._connection.in_transaction:
                self._connection.rollback()
            if not isinstance(exc, Exception):
                raise
            return [exc] * len(group)
        finally:
            cursor.close()

    def close(self) -> None:
        """Close the connection and let the thread end (pending writes finish first).

        Also called from a finalizer at interpreter exit, when the thread may no longer take work:
        the connection is then closed here.
        """
        try:
            self._thread.submit(self._connection.close)
        except RuntimeError:  # the executor is shut down (interpreter exit)
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
        self._thread.shutdown(wait=False)
