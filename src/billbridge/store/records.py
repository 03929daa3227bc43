"""Synced records per (connection, model): pages written atomically (each page whole or not at all),
read by cursor.

Payloads are stored as plain JSON text, not encrypted: they are the customer's business data that
the product reads back in bulk through ``GET /records``, not credentials that grant access to
BILL. They get the protection of the database itself (access control, disk or volume encryption,
file mode 0600 for SQLite), the same as connection metadata, and they go when the connection goes
(foreign keys cascade).

A page is diffed against what is stored (one read of the stored hashes by id) and only what
changed is written, with the stream's change counter locked so changes commit in ``seq`` order.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

import psycopg
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from billbridge.errors import NotFoundError
from billbridge.store.db import DEFAULT_BUSY_TIMEOUT_MS, Database, sqlite_file
from billbridge.store.domain import Clock, utc_now
from billbridge.store.record_batches import PageBatches
from billbridge.store.record_diff import PageCounts, is_archived, prepare
from billbridge.store.record_pages import DEFAULT_LIMIT, RecordPage, read_page
from billbridge.store.record_sqlite import SqliteWriter, write_page_sqlite
from billbridge.store.record_statements import ADVANCE, RECORDS, STREAMS
from billbridge.store.record_write import MissingStreamError, MissingSyncError, PageWrite, write_pages
from billbridge.store.sqltypes import to_micros
from billbridge.store.sync_state import SyncCheckpoint
from billbridge.store.walks import WalkPosition, forget_run, read_walk

__all__ = ["PageCounts", "RecordPage", "RecordRepository", "is_archived"]

# The page writer of each SQLite file database, shared by its repositories.
_WRITERS: weakref.WeakKeyDictionary[Database, SqliteWriter] = weakref.WeakKeyDictionary()
# The batches of pages of each PostgreSQL database, shared by its repositories.
_BATCHES: weakref.WeakKeyDictionary[Database, PageBatches] = weakref.WeakKeyDictionary()


class RecordRepository:
    """Writes pages of records and serves them back by cursor."""

    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def upsert_page(
        self,
        connection_pk: int,
        model: str,
        records: Iterable[Mapping[str, Any]],
        *,
        id_field: str = "id",
        modified_field: str | None = "updatedTime",
        archived: Callable[[Mapping[str, Any]], bool] = is_archived,
        run_id: str | None = None,
        checkpoint: SyncCheckpoint | None = None,
        walk: WalkPosition | None = None,
    ) -> PageCounts:
        """Store one page of records in one transaction and say what changed.

        New records are ADDED (DELETED if already archived), changed ones UPDATED, archived ones
        DELETED (payload kept, ``deleted_at`` set), restored ones UPDATED; an unchanged payload is
        not rewritten, and neither is a payload older (by ``modified_field``) than the stored one.
        ``run_id`` marks every record of the page as seen by that run (for
        :meth:`mark_missing_deleted`); ``checkpoint`` and the position of the ``walk`` that
        stored the page are saved in the same transaction.

        Raises:
            ValidationError: a record has no ``id_field`` or is not JSON-serialisable.
            NotFoundError: the connection does not exist (any more).
        """
        page = PageWrite(
            connection_pk=connection_pk,
            model=model,
            incoming=prepare(records, id_field, modified_field, archived),
            run_id=run_id,
            checkpoint=checkpoint,
            clock=self._clock,
            walk=walk,
        )
        try:
            writer = self.sqlite_writer()
            if writer is not None:
                return await writer.run(partial(write_page_sqlite, page=page))
            if self._db.is_postgres:
                if page.checkpoint is None:
                    return await self._batches().write(page)
                return (await _write_postgres(self._db, [page]))[0]
            async with self._db.transaction() as session:
                conn = await session.connection()
                return await conn.run_sync(_write_sqlite_through, page)
        except (IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError, MissingStreamError):
            raise NotFoundError(f"connection {connection_pk} does not exist") from None
        except MissingSyncError as exc:
            raise NotFoundError(str(exc)) from None

    def _batches(self) -> PageBatches:
        """The database's batches of pages (shared by its repositories, like the SQLite writer)."""
        batches = _BATCHES.get(self._db)
        if batches is None:
            # Through a proxy: the batches must not keep their database (their key) alive.
            batches = _BATCHES[self._db] = PageBatches(partial(_write_postgres, weakref.proxy(self._db)))
        return batches

    def sqlite_writer(self) -> SqliteWriter | None:
        """The SQLite file's page writer (shared by the repositories of one database), if any."""
        if self._db.is_postgres:
            return None
        writer = _WRITERS.get(self._db)
        if writer is None and sqlite_file(self._db.url) is not None:
            writer = _WRITERS[self._db] = SqliteWriter(self._db.url, busy_timeout_ms=DEFAULT_BUSY_TIMEOUT_MS)
            weakref.finalize(self._db, writer.close)
        return writer

    async def walk(self, walk_id: str) -> WalkPosition | None:
        """Where a walk stands after its last stored page (None: it stored none, or its run ended)."""
        async with self._db.session() as session:
            found = (await session.execute(read_walk(walk_id))).one_or_none()
        return None if found is None else WalkPosition.from_text(walk_id, found.run_id, found.position)

    async def forget_walks(self, run_id: str) -> None:
        """Delete the positions of a run's walks (the run has ended)."""
        async with self._db.transaction() as session:
            await session.execute(forget_run(run_id))

    async def mark_missing_deleted(
        self, connection_pk: int, model: str, run_id: str, *, batch: int = 1_000
    ) -> int:
        """After a full refresh: mark DELETED every live record the run ``run_id`` did not see.

        Works in batches of ``batch`` records, one short transaction each; returns how many.
        """
        total = 0
        after = ""  # keyset on the primary key: each batch starts where the last one stopped
        key = {"b_connection_pk": connection_pk, "b_model": model}
        c = RECORDS.c
        while True:
            async with self._db.transaction() as session:
                conn = await session.connection()
                stream_id = await _find_stream(conn, connection_pk, model)
                if stream_id is None:
                    return total
                missing = list(
                    await conn.scalars(
                        select(c.external_id)
                        .where(
                            c.stream_id == stream_id,
                            c.external_id > after,
                            c.deleted_us.is_(None),
                            (c.seen_run != run_id) | c.seen_run.is_(None),
                        )
                        .order_by(c.external_id)
                        .limit(batch)
                    )
                )
                if not missing:
                    return total
                params = {
                    **key,
                    "b_changes": len(missing),
                    "b_new_rows": 0,
                    "b_now": to_micros(self._clock()),
                }
                _, last_seq, instant = (await conn.execute(ADVANCE, params)).one()
                first = last_seq - len(missing) + 1
                await conn.execute(
                    update(RECORDS)
                    .where(c.stream_id == stream_id, c.external_id == bindparam("b_id"))
                    .values(
                        seq=bindparam("b_seq"),
                        last_action="DELETED",
                        deleted_us=instant,
                        last_modified_us=instant,
                        seen_run=run_id,
                    ),
                    [{"b_id": ext, "b_seq": first + n} for n, ext in enumerate(missing)],
                )
                total += len(missing)
                after = missing[-1]

    async def list(
        self,
        connection_pk: int,
        model: str,
        *,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
        modified_after: datetime | None = None,
        actions: Collection[str] | None = None,
        ids: Sequence[str] | None = None,
    ) -> RecordPage:
        """One page of records, oldest change first (see :func:`record_pages.read_page`)."""
        async with self._db.session() as session:
            return await read_page(
                await session.connection(),
                connection_pk,
                model,
                cursor=cursor,
                limit=limit,
                modified_after=modified_after,
                actions=actions,
                ids=ids,
            )

    async def counts(self, connection_pk: int) -> dict[str, int]:
        """How many records each model of the connection holds (deleted ones included)."""
        query = select(STREAMS.c.model, STREAMS.c.record_count).where(
            STREAMS.c.connection_pk == connection_pk
        )
        async with self._db.session() as session:
            return {model: count for model, count in (await session.execute(query)).all()}

    async def delete_model_records(self, connection_pk: int, model: str) -> int:
        """Delete every record of one model of a connection (a full refresh that empties the cache).

        The stream keeps its change counter and instant, so records written again sort after
        every cursor handed out before.
        """
        async with self._db.transaction() as session:
            stream = (
                select(STREAMS.c.id)
                .where(STREAMS.c.connection_pk == connection_pk, STREAMS.c.model == model)
                .scalar_subquery()
            )
            deleted = await session.execute(delete(RECORDS).where(RECORDS.c.stream_id == stream))
            await session.execute(
                update(STREAMS)
                .where(STREAMS.c.connection_pk == connection_pk, STREAMS.c.model == model)
                .values(record_count=0)
            )
            return int(deleted.rowcount or 0)  # type: ignore[attr-defined]

    async def delete_connection_records(self, connection_pk: int) -> int:
        """Delete every record of a connection (all models); returns how many there were."""
        async with self._db.transaction() as session:
            total = await session.scalar(
                select(func.coalesce(func.sum(STREAMS.c.record_count), 0)).where(
                    STREAMS.c.connection_pk == connection_pk
                )
            )
            streams = select(STREAMS.c.id).where(STREAMS.c.connection_pk == connection_pk)
            await session.execute(delete(RECORDS).where(RECORDS.c.stream_id.in_(streams)))
            await session.execute(delete(STREAMS).where(STREAMS.c.connection_pk == connection_pk))
            return int(total or 0)


def _write_sqlite_through(conn: Connection, page: PageWrite) -> PageCounts:
    """A page write on a SQLite database that is not a file (in memory): through its own driver."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor: Any = raw.cursor()
    return write_page_sqlite(cursor, page)


async def _find_stream(conn: AsyncConnection, connection_pk: int, model: str) -> int | None:
    found: int | None = await conn.scalar(
        select(STREAMS.c.id).where(STREAMS.c.connection_pk == connection_pk, STREAMS.c.model == model)
    )
    return found


async def _write_postgres(db: Database, pages: list[PageWrite]) -> list[PageCounts]:
    async with db.engine.connect() as conn:
        raw: Any = (await conn.get_raw_connection()).driver_connection
        return await write_pages(raw, pages)
