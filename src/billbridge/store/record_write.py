"""Writing pages of records to PostgreSQL (one page, or a batch of one stream's pages from
``record_batches``): the diff read, then every write in one statement.

Every page of a stream takes the lock on the stream's row (its change counter) and keeps it to
commit, so changes commit in ``seq`` order: all pages of a large first run queue for that one lock,
and how long a page holds it bounds how fast a stream is stored. The writes (the stream's counter,
the rows, the records seen, the walk's position, the checkpoint) are therefore one statement of
data-modifying CTEs that commits on its own (autocommit): the lock lasts as long as the server's
own work. Sent as several statements in a transaction, it was also held while this process's
event loop got round to sending the next one and the COMMIT, about 5.6 ms per page against 1.5 of
server work.

Seq numbers and instants are set by the server from the locked stream row (locking re-reads its
latest version), and the stream counts exactly the rows the statement inserted (a page written at
the same time may have inserted one of these ids after the read). A page with a checkpoint also
locks its sync's state from the read to commit, in a transaction, so the sync cannot go in between.
SQLite has its own writer (``record_sqlite``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import psycopg
from psycopg.types.json import Jsonb

from billbridge.store.domain import Clock
from billbridge.store.record_bulk import COLUMNS, NOT_OLDER, UPDATED_COLUMNS
from billbridge.store.record_diff import AT_WRITE, Incoming, PageCounts, Stored, diff
from billbridge.store.sqltypes import to_micros
from billbridge.store.sync_state import SyncCheckpoint
from billbridge.store.walks import SAVE_POSTGRES, WalkPosition, save_arrays

Postgres = psycopg.AsyncConnection[Any]

# Ids per statement when reading stored hashes.
CHUNK: Final = 5_000

_STREAM: Final = (
    "(SELECT id FROM record_streams WHERE connection_pk = %(connection_pk)s AND model = %(model)s)"
)
# One primary-key probe per id, whatever the statistics say. Joined instead, the planner hashes the
# whole stream whenever its statistics are stale (a first run grows the table faster than
# autovacuum analyzes it): 4 ms instead of 0.4 for a page of 100, growing with the stream.
# "= ANY(array)" has the same fault in the generic plan psycopg's prepared statements get.
STORED: Final = (
    "SELECT r.external_id, r.data_hash, r.source_modified_us, r.deleted_us "  # noqa: S608
    "FROM unnest(%(ids)s::text[]) AS w(id) CROSS JOIN LATERAL ("
    "SELECT external_id, data_hash, source_modified_us, deleted_us FROM records "
    f"WHERE stream_id = {_STREAM} AND external_id = w.id LIMIT 1) AS r"
)
LOCK_SYNC: Final = (
    "SELECT 1 FROM sync_states WHERE connection_pk = %(connection_pk)s AND name = %(name)s FOR NO KEY UPDATE"
)
STREAM_EXISTS: Final = (
    "SELECT 1 FROM record_streams WHERE connection_pk = %(connection_pk)s AND model = %(model)s"
)
# A stream is made before its first page is written, so a page only ever locks an existing row.
CREATE_STREAM: Final = (
    "INSERT INTO record_streams (connection_pk, model, last_seq, last_modified_us, record_count) "
    "VALUES (%(connection_pk)s, %(model)s, 0, 0, 0) ON CONFLICT (connection_pk, model) DO NOTHING"
)
# The columns a page sends, one binary array each; the rest comes from the stream's row.
SENT: Final = {
    "external_id": "text",
    "payload": "text",
    "data_hash": "text",
    "source_modified_us": "int8",
    "last_action": "text",
    "deleted_us": "int8",
    "seen_run": "text",
}
_ROW: Final = {
    **{column: f"w.{column}" for column in SENT},
    "stream_id": "s.id",
    "seq": "s.last_seq + w.n",
    "first_seen_us": "s.at",
    "last_modified_us": "s.at",
    "deleted_us": f"CASE WHEN w.deleted_us = {AT_WRITE} THEN s.at ELSE w.deleted_us END",
}
_SET: Final = ", ".join(f"{column} = excluded.{column}" for column in UPDATED_COLUMNS)
# The stream's row, locked to commit; FOR NO KEY UPDATE lets the rows' foreign keys share it.
_LOCKED: Final = (
    "s AS (SELECT id, last_seq, GREATEST(last_modified_us, %(now)s) AS at FROM record_streams "
    "WHERE connection_pk = %(connection_pk)s AND model = %(model)s FOR NO KEY UPDATE)"
)
_WRITTEN: Final = (
    "written AS ("  # noqa: S608 (constant identifiers only)
    f"INSERT INTO records ({', '.join(COLUMNS)}) "
    f"SELECT {', '.join(_ROW[column] for column in COLUMNS)} FROM s, "
    f"unnest({', '.join(f'%({column})b::{kind}[]' for column, kind in SENT.items())}) "
    f"WITH ORDINALITY AS w({', '.join(SENT)}, n) "
    f"ON CONFLICT (stream_id, external_id) DO UPDATE SET {_SET} WHERE {NOT_OLDER} "
    # xmax is 0 on a row this statement inserted (not on one it updated).
    "RETURNING (xmax = 0) AS inserted)"
)
_SEEN: Final = (
    "seen AS (UPDATE records r SET seen_run = %(seen_by)s "  # noqa: S608
    f"FROM unnest(%(unchanged)s::text[]) AS u(id) WHERE r.stream_id = {_STREAM} AND r.external_id = u.id)"
)
_WALK: Final = f"walk AS ({SAVE_POSTGRES})"
_CHECKPOINT: Final = (
    "checkpoint AS (UPDATE sync_states SET checkpoint = %(checkpoint)s, updated_at = %(at)s "
    "WHERE connection_pk = %(connection_pk)s AND name = %(sync)s)"
)
# The locked row moves on by the page's changes; the statement's UPDATE finds its latest version.
_ADVANCE: Final = (
    "UPDATE record_streams SET last_seq = last_seq + %(changes)s, "
    "last_modified_us = GREATEST(last_modified_us, %(now)s), "
    "record_count = record_count + (SELECT count(*) FROM written WHERE inserted) "
    "WHERE id = (SELECT id FROM s) RETURNING id"
)


@cache
def page_statement(*, rows: bool, seen: bool, walk: bool, checkpoint: bool) -> str:
    """The one statement that writes a page: only the parts the page needs (16 texts at most, each
    prepared once per connection)."""
    parts = [
        *((_LOCKED, _WRITTEN) if rows else ()),
        *((_SEEN,) if seen else ()),
        *((_WALK,) if walk else ()),
        *((_CHECKPOINT,) if checkpoint else ()),
    ]
    main = _ADVANCE if rows else "SELECT 1"
    return f"WITH {', '.join(parts)} {main}" if parts else main


class MissingStreamError(Exception):
    """The connection went while the page was written (its streams go with it)."""


class MissingSyncError(Exception):
    """The checkpoint's sync does not exist (the page's transaction is rolled back)."""


@dataclass(frozen=True, slots=True)
class PageWrite:
    """One page to write: what the page writers need besides the connection."""

    connection_pk: int
    model: str
    incoming: Mapping[str, Incoming]
    run_id: str | None
    checkpoint: SyncCheckpoint | None
    clock: Clock
    walk: WalkPosition | None = None


def column_arrays(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """The arrays of a page's rows (:data:`SENT`): each sent column of ``rows``, in order."""
    return {column: [row[column] for row in rows] for column in SENT}


async def write_pages(conn: Postgres, pages: Sequence[PageWrite]) -> list[PageCounts]:
    """Diff pages of one stream against what is stored and write what changed on ``conn``
    (psycopg, no transaction open): in one statement that commits on its own, or, for a single
    page with a checkpoint, in one transaction with the sync's state locked.

    The pages share their connection, model and run, and no id is on two of them (one row cannot
    be written twice by one statement); a checkpoint only comes on a page written alone.

    Raises:
        psycopg.IntegrityError, MissingStreamError: the connection does not exist (any more).
        MissingSyncError: the checkpoint's sync does not exist.
    """
    alone = pages[0].checkpoint is None
    if alone:
        await conn.set_autocommit(True)
    try:
        counts = await _write(conn, pages)
        if not alone:
            await conn.commit()
        return counts
    finally:
        if alone:
            await conn.set_autocommit(False)


async def _write(conn: Postgres, pages: Sequence[PageWrite]) -> list[PageCounts]:
    first = pages[0]
    checkpoint = first.checkpoint
    assert checkpoint is None or len(pages) == 1, "a page with a checkpoint is written alone"
    key = {"connection_pk": first.connection_pk, "model": first.model}
    ids = [external_id for page in pages for external_id in page.incoming]
    async with conn.pipeline():
        reads = [conn.cursor() for _ in range(0, len(ids), CHUNK)]
        for n, read in enumerate(reads):
            await read.execute(STORED, {**key, "ids": ids[n * CHUNK : (n + 1) * CHUNK]})
        stream = conn.cursor()
        await stream.execute(STREAM_EXISTS, key)
        sync_state = conn.cursor()
        if checkpoint is not None:
            # Locked to commit: the sync cannot go between this check and the checkpoint's update.
            await sync_state.execute(
                LOCK_SYNC, {"connection_pk": first.connection_pk, "name": checkpoint.name}
            )
    if checkpoint is not None and not await sync_state.fetchall():
        raise MissingSyncError(f"sync {checkpoint.name!r} of connection {first.connection_pk} does not exist")
    stored: dict[str, Stored] = {}
    for read in reads:
        for external_id, data_hash, source_modified_us, deleted_us in await read.fetchall():
            stored[external_id] = Stored(data_hash, source_modified_us, deleted_us)
    rows: list[dict[str, Any]] = []
    unchanged: list[str] = []
    counts: list[PageCounts] = []
    walks: list[WalkPosition] = []
    for page in pages:
        page_rows, page_unchanged, page_counts = diff(page.incoming, stored, page.run_id)
        rows += page_rows
        if page.run_id is not None:
            unchanged += page_unchanged
        counts.append(page_counts)
        if page.walk is not None:
            walks.append(page.walk.after(page_counts.added, page_counts.updated, page_counts.deleted))
    if rows and not await stream.fetchall():
        await conn.execute(CREATE_STREAM, key)
    now = first.clock()
    params: dict[str, Any] = {**key, "now": to_micros(now)}
    if rows:
        params.update(changes=len(rows), **column_arrays(rows))
    if unchanged:
        params.update(seen_by=first.run_id, unchanged=unchanged)
    if walks:
        params.update(save_arrays(walks, first.connection_pk, to_micros(now)))
    if checkpoint is not None:
        params.update(checkpoint=Jsonb(dict(checkpoint.value)), at=now, sync=checkpoint.name)
    statement = page_statement(
        rows=bool(rows), seen=bool(unchanged), walk=bool(walks), checkpoint=checkpoint is not None
    )
    if statement == "SELECT 1":
        return counts
    written = await conn.execute(statement, params)
    if rows and not await written.fetchall():
        raise MissingStreamError(f"connection {first.connection_pk} does not exist")
    return counts
