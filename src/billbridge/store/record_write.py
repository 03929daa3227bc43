"""Writing one page of records to PostgreSQL in one transaction: the diff read, the stream's change
counter, the rows, the checkpoint and the walk's position, in two round trips.

The first round trip reads the stored hashes of the page's ids (and, with a checkpoint, locks the
sync's state); the second sends every write and the COMMIT in one pipeline. Every page of a
stream waits for the lock on the stream's row, taken by its change counter and held to commit: in
one pipeline that lock lasts as long as the server's own work, where a statement per round trip
held it across three turns of a busy event loop. Seq numbers and instants are therefore set by the
server, from the stream's row, and the stream counts exactly the rows the statement inserted (a
page written at the same time may have inserted one of these ids after the read). SQLite has its
own writer (``record_sqlite``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import psycopg
from psycopg.types.json import Jsonb

from billbridge.store.domain import Clock
from billbridge.store.record_bulk import COLUMNS, NOT_OLDER, UPDATED_COLUMNS
from billbridge.store.record_diff import AT_WRITE, Incoming, PageCounts, Stored, diff
from billbridge.store.sqltypes import to_micros
from billbridge.store.sync_state import SyncCheckpoint
from billbridge.store.walks import SAVE_POSTGRES, WalkPosition

Postgres = psycopg.AsyncConnection[Any]

# Ids per statement when reading stored hashes or marking records seen.
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
MARK_SEEN: Final = (
    "UPDATE records r SET seen_run = %(run_id)s FROM unnest(%(ids)s::text[]) AS w(id) "  # noqa: S608
    f"WHERE r.stream_id = {_STREAM} AND r.external_id = w.id"
)
CHECKPOINT: Final = (
    "UPDATE sync_states SET checkpoint = %(value)s, updated_at = %(at)s "
    "WHERE connection_pk = %(connection_pk)s AND name = %(name)s"
)
# record_statements.ADVANCE without the record count (the upsert below counts what it inserts).
ADVANCE: Final = (
    "INSERT INTO record_streams (connection_pk, model, last_seq, last_modified_us, record_count) "
    "VALUES (%(connection_pk)s, %(model)s, %(changes)s, %(now)s, 0) "
    "ON CONFLICT (connection_pk, model) DO UPDATE SET "
    "last_seq = record_streams.last_seq + excluded.last_seq, "
    "last_modified_us = CASE WHEN record_streams.last_modified_us > excluded.last_modified_us "
    "THEN record_streams.last_modified_us ELSE excluded.last_modified_us END"
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
    "seq": "s.last_seq - %(changes)s + w.n",
    "first_seen_us": "s.last_modified_us",
    "last_modified_us": "s.last_modified_us",
    "deleted_us": f"CASE WHEN w.deleted_us = {AT_WRITE} THEN s.last_modified_us ELSE w.deleted_us END",
}
_SET: Final = ", ".join(f"{column} = excluded.{column}" for column in UPDATED_COLUMNS)
UPSERT: Final = (
    "WITH written AS ("  # noqa: S608 (constant identifiers only)
    f"INSERT INTO records ({', '.join(COLUMNS)}) "
    f"SELECT {', '.join(_ROW[column] for column in COLUMNS)} FROM record_streams s, "
    f"unnest({', '.join(f'%({column})b::{kind}[]' for column, kind in SENT.items())}) "
    f"WITH ORDINALITY AS w({', '.join(SENT)}, n) "
    "WHERE s.connection_pk = %(connection_pk)s AND s.model = %(model)s "
    f"ON CONFLICT (stream_id, external_id) DO UPDATE SET {_SET} WHERE {NOT_OLDER} "
    # xmax is 0 on a row this statement inserted (not on one it updated).
    "RETURNING (xmax = 0) AS inserted) "
    "UPDATE record_streams SET record_count = record_count + (SELECT count(*) FROM written WHERE inserted) "
    "WHERE connection_pk = %(connection_pk)s AND model = %(model)s"
)


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
    """The arrays of :data:`UPSERT`: each sent column of ``rows``, in order."""
    return {column: [row[column] for row in rows] for column in SENT}


async def write_page(conn: Postgres, page: PageWrite) -> PageCounts:
    """Diff the page against what is stored and write what changed, in one transaction on ``conn``
    (psycopg, no transaction open), committed on return.

    Raises:
        psycopg.IntegrityError: the connection does not exist (any more).
        MissingSyncError: the checkpoint's sync does not exist.
    """
    key = {"connection_pk": page.connection_pk, "model": page.model}
    ids = list(page.incoming)
    async with conn.pipeline():
        reads = [conn.cursor() for _ in range(0, len(ids), CHUNK)]
        for n, read in enumerate(reads):
            await read.execute(STORED, {**key, "ids": ids[n * CHUNK : (n + 1) * CHUNK]})
        sync_state = conn.cursor()
        if page.checkpoint is not None:
            # Locked to commit: the sync cannot go between this check and the checkpoint's update.
            await sync_state.execute(
                LOCK_SYNC, {"connection_pk": page.connection_pk, "name": page.checkpoint.name}
            )
    if page.checkpoint is not None and not await sync_state.fetchall():
        raise MissingSyncError(
            f"sync {page.checkpoint.name!r} of connection {page.connection_pk} does not exist"
        )
    stored: dict[str, Stored] = {}
    for read in reads:
        for external_id, data_hash, source_modified_us, deleted_us in await read.fetchall():
            stored[external_id] = Stored(data_hash, source_modified_us, deleted_us)
    rows, unchanged, counts = diff(page.incoming, stored, page.run_id)
    now = page.clock()
    async with conn.pipeline(), conn.cursor() as cursor:
        if rows:
            # The stream's row is locked from here to commit: its changes commit in seq order.
            await cursor.execute(ADVANCE, {**key, "changes": len(rows), "now": to_micros(now)})
            await cursor.execute(UPSERT, {**key, "changes": len(rows), **column_arrays(rows)})
        for start in range(0, len(unchanged) if page.run_id is not None else 0, CHUNK):
            seen = unchanged[start : start + CHUNK]
            await cursor.execute(MARK_SEEN, {**key, "ids": seen, "run_id": page.run_id})
        if page.checkpoint is not None:
            params = {"connection_pk": page.connection_pk, "name": page.checkpoint.name}
            await cursor.execute(
                CHECKPOINT, {**params, "value": Jsonb(dict(page.checkpoint.value)), "at": now}
            )
        if page.walk is not None:
            walk = page.walk.after(counts.added, counts.updated, counts.deleted)
            await cursor.execute(SAVE_POSTGRES, walk.save_params(page.connection_pk, to_micros(now)))
        await conn.commit()
    return counts
