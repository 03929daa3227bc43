"""Writing one page of records in one transaction: the diff read, the stream's change counter, the
rows and the checkpoint.

The transaction is one synchronous function over a SQLAlchemy ``Connection``. On PostgreSQL it
runs through ``AsyncConnection.run_sync`` (psycopg is asynchronous itself). On a SQLite file it
runs whole on a thread of its own with a plain ``sqlite3`` connection: the async driver hands
every call (BEGIN, execute, fetch, close, COMMIT) to its thread and back, about seventeen hops a
page that cost more than the writing itself, and each hop waits for the interpreter lock while the
sync engine's other threads hold it. One hop per page, and page writes queue on that one thread
rather than in SQLite's busy handler (which sleeps 1 to 100 ms between tries).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy import update
from sqlalchemy.engine import URL, Connection

from billbridge.store.db import prepare_sqlite_connection
from billbridge.store.domain import Clock
from billbridge.store.models import SyncStateRow
from billbridge.store.record_bulk import UPSERT, UPSERT_SQLITE, column_arrays, json_rows
from billbridge.store.record_diff import Incoming, PageCounts, Stored, diff, stamp
from billbridge.store.record_statements import STREAMS, RecordStatements
from billbridge.store.sqltypes import to_micros
from billbridge.store.sync_state import SyncCheckpoint

# Ids per statement when reading stored hashes (well under SQLite's and psycopg's bind limits).
CHUNK: Final = 5_000

T = TypeVar("T")


class MissingSyncError(Exception):
    """The checkpoint's sync does not exist (the page's transaction is rolled back)."""


@dataclass(frozen=True, slots=True)
class PageWrite:
    """One page to write: what :func:`write_page` needs besides the connection."""

    statements: RecordStatements
    connection_pk: int
    model: str
    incoming: Mapping[str, Incoming]
    run_id: str | None
    checkpoint: SyncCheckpoint | None
    clock: Clock
    postgres: bool


def write_page(conn: Connection, page: PageWrite) -> PageCounts:
    """Diff the page against what is stored and write what changed, inside ``conn``'s transaction.

    Raises:
        IntegrityError: the connection does not exist (any more).
        MissingSyncError: the checkpoint's sync does not exist.
    """
    sql = page.statements
    key = {"b_connection_pk": page.connection_pk, "b_model": page.model}
    stored = _stored(conn, sql, key, list(page.incoming))
    rows, unchanged, counts = diff(page.incoming, stored, page.run_id)
    if rows:
        # Locked from here to commit: as short as the write itself.
        new_rows = sum(1 for row in rows if row["external_id"] not in stored)
        now = to_micros(page.clock())
        params = {**key, "b_changes": len(rows), "b_new_rows": new_rows, "b_now": now}
        stream_id, last_seq, instant = conn.execute(sql.advance, params).one()
        stamp(rows, stream_id, last_seq - len(rows) + 1, instant)
        if page.postgres:
            inserted = _write_rows_postgres(conn, rows)
            if inserted != new_rows:
                # Another page inserted one of these ids after we read (pages written at once):
                # count what was really inserted. The row is still ours.
                conn.execute(
                    update(STREAMS)
                    .where(STREAMS.c.id == stream_id)
                    .values(record_count=STREAMS.c.record_count + (inserted - new_rows))
                )
        else:
            # One writer at a time on SQLite: what was read above is exact.
            conn.exec_driver_sql(UPSERT_SQLITE, (json_rows(rows),))
    for start in range(0, len(unchanged) if page.run_id is not None else 0, CHUNK):
        chunk = unchanged[start : start + CHUNK]
        conn.execute(sql.mark_seen, {**key, "b_ids": chunk, "b_run_id": page.run_id})
    if page.checkpoint is not None:
        _write_checkpoint(conn, page.connection_pk, page.checkpoint, page.clock)
    return counts


def _stored(
    conn: Connection, sql: RecordStatements, key: dict[str, Any], ids: Sequence[str]
) -> dict[str, Stored]:
    """What is stored of these ids (hash, source time, deletion), by id."""
    found: dict[str, Stored] = {}
    for start in range(0, len(ids), CHUNK):
        params = {**key, "b_ids": list(ids[start : start + CHUNK])}
        for external_id, data_hash, source_modified_us, deleted_us in conn.execute(sql.stored, params):
            found[external_id] = Stored(data_hash, source_modified_us, deleted_us)
    return found


def _write_rows_postgres(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or update ``rows`` in one statement (see ``record_bulk``); how many were inserted."""
    result = conn.exec_driver_sql(UPSERT, column_arrays(rows))
    return sum(1 for (inserted,) in result if inserted)


def _write_checkpoint(conn: Connection, connection_pk: int, checkpoint: SyncCheckpoint, clock: Clock) -> None:
    """Save a sync's checkpoint with the page it belongs to."""
    result = conn.execute(
        update(SyncStateRow)
        .where(SyncStateRow.connection_pk == connection_pk, SyncStateRow.name == checkpoint.name)
        .values(checkpoint=dict(checkpoint.value), updated_at=clock())
    )
    if not result.rowcount:
        raise MissingSyncError(f"sync {checkpoint.name!r} of connection {connection_pk} does not exist")


class SqliteWriter:
    """Runs write transactions on a SQLite file on one thread of its own, one call each.

    Args:
        url: the database's URL (any SQLite driver; the file is what counts).
        busy_timeout_ms: how long to wait for another connection's write lock (other processes,
            or this process's other connections).
    """

    def __init__(self, url: URL, *, busy_timeout_ms: int) -> None:
        self._engine = sa.create_engine(
            url.set(drivername="sqlite+pysqlite"),
            poolclass=sa.pool.StaticPool,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            # A failed statement's message would otherwise carry the records' contents into logs.
            hide_parameters=True,
        )
        _configure(self._engine, busy_timeout_ms)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="billbridge-records")

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` inside a write transaction (BEGIN IMMEDIATE), committed when it returns."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, partial(self._transact, work))

    def _transact(self, work: Callable[[Connection], T]) -> T:
        with self._engine.begin() as conn:
            return work(conn)

    def close(self) -> None:
        """Close the connection and let the thread end (pending writes finish first)."""
        self._thread.submit(self._engine.dispose)
        self._thread.shutdown(wait=False)


def _configure(engine: sa.Engine, busy_timeout_ms: int) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        prepare_sqlite_connection(dbapi_connection, busy_timeout_ms=busy_timeout_ms)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE: a deferred read-then-write transaction fails at once with SQLITE_BUSY when
        # another connection wrote meanwhile.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
