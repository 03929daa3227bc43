"""Writing one page of records to PostgreSQL in one transaction: the diff read, the stream's change
counter, the rows, the checkpoint and the walk's position.

The transaction is one synchronous function over a SQLAlchemy ``Connection``, run through
``AsyncConnection.run_sync`` (psycopg is asynchronous itself). SQLite has its own writer
(``record_sqlite``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import update
from sqlalchemy.engine import Connection

from billbridge.store.domain import Clock
from billbridge.store.models import SyncStateRow
from billbridge.store.record_bulk import UPSERT, column_arrays
from billbridge.store.record_diff import Incoming, PageCounts, Stored, diff, stamp
from billbridge.store.record_statements import STREAMS, RecordStatements
from billbridge.store.sqltypes import to_micros
from billbridge.store.sync_state import SyncCheckpoint
from billbridge.store.walks import SAVE, WalkPosition

# Ids per statement when reading stored hashes (well under SQLite's and psycopg's bind limits).
CHUNK: Final = 5_000


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
    walk: WalkPosition | None = None


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
        inserted = _write_rows(conn, rows)
        if inserted != new_rows:
            # Another page inserted one of these ids after we read (pages written at once): count
            # what was really inserted. The row is still ours.
            conn.execute(
                update(STREAMS)
                .where(STREAMS.c.id == stream_id)
                .values(record_count=STREAMS.c.record_count + (inserted - new_rows))
            )
    for start in range(0, len(unchanged) if page.run_id is not None else 0, CHUNK):
        chunk = unchanged[start : start + CHUNK]
        conn.execute(sql.mark_seen, {**key, "b_ids": chunk, "b_run_id": page.run_id})
    if page.checkpoint is not None:
        _write_checkpoint(conn, page.connection_pk, page.checkpoint, page.clock)
    if page.walk is not None:
        walk = page.walk.after(counts.added, counts.updated, counts.deleted)
        conn.execute(SAVE, walk.save_params(page.connection_pk, to_micros(page.clock())))
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


def _write_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
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
