"""Synced records per (connection, model): pages written in one transaction each, read by cursor.

Payloads are stored as plain JSON text, not encrypted: they are the customer's business data that
the product reads back in bulk through ``GET /records``, not credentials that grant access to
BILL. They get the protection of the database itself (access control, disk or volume encryption,
file mode 0600 for SQLite), the same as connection metadata, and they go when the connection goes
(foreign keys cascade).

A page is diffed against what is stored (one read of the stored hashes by id) and only what
changed is written, with the stream's change counter locked so changes commit in ``seq`` order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import String, any_, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from billbridge.errors import NotFoundError
from billbridge.store.db import Database
from billbridge.store.domain import Clock, utc_now
from billbridge.store.models import RecordRow, RecordStreamRow, table_of
from billbridge.store.record_copy import UPDATED_COLUMNS, copy_rows
from billbridge.store.record_diff import PageCounts, Stored, diff, is_archived, prepare
from billbridge.store.record_pages import DEFAULT_LIMIT, RecordPage, read_page
from billbridge.store.sqltypes import to_micros
from billbridge.store.sync_state import SyncCheckpoint, write_checkpoint

__all__ = ["PageCounts", "RecordPage", "RecordRepository", "is_archived"]

# Ids per statement when reading stored hashes (well under SQLite's and psycopg's bind limits).
_CHUNK: Final = 5_000
# Core tables, not ORM entities: pages move thousands of rows, and the ORM layer would cost more
# than the database does.
_RECORDS = table_of(RecordRow)
_STREAMS = table_of(RecordStreamRow)


class RecordRepository:
    """Writes pages of records and serves them back by cursor."""

    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock
        self._insert = postgresql.insert if db.is_postgres else sqlite.insert

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
    ) -> PageCounts:
        """Store one page of records in one transaction and say what changed.

        New records are ADDED (DELETED if already archived), changed ones UPDATED, archived ones
        DELETED (payload kept, ``deleted_at`` set), restored ones UPDATED; an unchanged payload is
        not rewritten, and neither is a payload older (by ``modified_field``) than the stored one.
        ``run_id`` marks every record of the page as seen by that run (for
        :meth:`mark_missing_deleted`); ``checkpoint`` is saved in the same transaction.

        Raises:
            ValidationError: a record has no ``id_field`` or is not JSON-serialisable.
            NotFoundError: the connection does not exist (any more).
        """
        incoming = prepare(records, id_field, modified_field, archived)
        try:
            async with self._db.transaction() as session:
                conn = await session.connection()
                stream_id, last_seq, stamp = await self._lock_stream(conn, connection_pk, model)
                stored = await _stored(conn, stream_id, list(incoming), self._db.is_postgres)
                rows, unchanged, counts = diff(stream_id, incoming, stored, last_seq, stamp, run_id)
                if rows:
                    await self._write_rows(conn, rows)
                if run_id is not None and unchanged:
                    await _mark_seen(conn, stream_id, unchanged, run_id)
                if rows:
                    await conn.execute(
                        update(_STREAMS)
                        .where(_STREAMS.c.id == stream_id)
                        .values(
                            last_seq=last_seq + len(rows),
                            last_modified_us=stamp,
                            record_count=_STREAMS.c.record_count + (len(incoming) - len(stored)),
                        )
                    )
                if checkpoint is not None:
                    await write_checkpoint(session, connection_pk, checkpoint, self._clock())
        except IntegrityError:
            raise NotFoundError(f"connection {connection_pk} does not exist") from None
        return counts

    async def mark_missing_deleted(
        self, connection_pk: int, model: str, run_id: str, *, batch: int = 1_000
    ) -> int:
        """After a full refresh: mark DELETED every live record the run ``run_id`` did not see.

        Works in batches of ``batch`` records, one short transaction each; returns how many.
        """
        total = 0
        while True:
            async with self._db.transaction() as session:
                conn = await session.connection()
                if await _find_stream(conn, connection_pk, model) is None:
                    return total
                stream_id, last_seq, stamp = await self._lock_stream(conn, connection_pk, model)
                missing = list(
                    await conn.scalars(
                        select(_RECORDS.c.external_id)
                        .where(
                            _RECORDS.c.stream_id == stream_id,
                            _RECORDS.c.deleted_us.is_(None),
                            (_RECORDS.c.seen_run != run_id) | _RECORDS.c.seen_run.is_(None),
                        )
                        .limit(batch)
                    )
                )
                if not missing:
                    return total
                await conn.execute(
                    update(_RECORDS)
                    .where(_RECORDS.c.stream_id == stream_id, _RECORDS.c.external_id == bindparam("b_id"))
                    .values(
                        seq=bindparam("b_seq"),
                        last_action="DELETED",
                        deleted_us=stamp,
                        last_modified_us=stamp,
                        seen_run=run_id,
                    ),
                    [{"b_id": ext, "b_seq": last_seq + n} for n, ext in enumerate(missing, start=1)],
                )
                await conn.execute(
                    update(_STREAMS)
                    .where(_STREAMS.c.id == stream_id)
                    .values(last_seq=last_seq + len(missing), last_modified_us=stamp)
                )
                total += len(missing)

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
        query = select(_STREAMS.c.model, _STREAMS.c.record_count).where(
            _STREAMS.c.connection_pk == connection_pk
        )
        async with self._db.session() as session:
            return {model: count for model, count in (await session.execute(query)).all()}

    async def delete_model_records(self, connection_pk: int, model: str) -> int:
        """Delete every record of one model of a connection (a full refresh that empties the cache)."""
        async with self._db.transaction() as session:
            count = await session.scalar(
                select(_STREAMS.c.record_count).where(
                    _STREAMS.c.connection_pk == connection_pk, _STREAMS.c.model == model
                )
            )
            await session.execute(
                delete(_STREAMS).where(_STREAMS.c.connection_pk == connection_pk, _STREAMS.c.model == model)
            )
            return int(count or 0)

    async def delete_connection_records(self, connection_pk: int) -> int:
        """Delete every record of a connection (all models); returns how many there were."""
        async with self._db.transaction() as session:
            total = await session.scalar(
                select(func.coalesce(func.sum(_STREAMS.c.record_count), 0)).where(
                    _STREAMS.c.connection_pk == connection_pk
                )
            )
            streams = select(_STREAMS.c.id).where(_STREAMS.c.connection_pk == connection_pk)
            await session.execute(delete(_RECORDS).where(_RECORDS.c.stream_id.in_(streams)))
            await session.execute(delete(_STREAMS).where(_STREAMS.c.connection_pk == connection_pk))
            return int(total or 0)

    async def _lock_stream(
        self, conn: AsyncConnection, connection_pk: int, model: str
    ) -> tuple[int, int, int]:
        """Create or lock the stream row until commit: its id, last seq, and this write's instant.

        The instant is never before the stream's last one, so it never decreases with ``seq``
        (clocks of several processes may disagree by a little).
        """
        stmt = self._insert(_STREAMS).values(
            connection_pk=connection_pk, model=model, last_seq=0, last_modified_us=None, record_count=0
        )
        # DO UPDATE (not DO NOTHING) so the row is locked and returned whether it is new or not.
        locking = stmt.on_conflict_do_update(
            index_elements=["connection_pk", "model"], set_={"last_seq": _STREAMS.c.last_seq}
        ).returning(_STREAMS.c.id, _STREAMS.c.last_seq, _STREAMS.c.last_modified_us)
        stream_id, last_seq, last_modified = (await conn.execute(locking)).one()
        now = to_micros(self._clock())
        return stream_id, last_seq, max(now, last_modified) if last_modified is not None else now

    async def _write_rows(self, conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or update the rows; first_seen_us is only written when a record is new."""
        if self._db.is_postgres:
            await copy_rows(conn, rows)
            return
        stmt = sqlite.insert(_RECORDS)
        upsert = stmt.on_conflict_do_update(
            index_elements=["stream_id", "external_id"],
            set_={column: stmt.excluded[column] for column in UPDATED_COLUMNS},
        )
        await conn.execute(upsert, rows)


async def _find_stream(conn: AsyncConnection, connection_pk: int, model: str) -> int | None:
    found: int | None = await conn.scalar(
        select(_STREAMS.c.id).where(_STREAMS.c.connection_pk == connection_pk, _STREAMS.c.model == model)
    )
    return found


async def _stored(
    conn: AsyncConnection, stream_id: int, ids: Sequence[str], postgres: bool
) -> dict[str, Stored]:
    """What is stored of these ids. On PostgreSQL one array parameter, not thousands of binds."""
    found: dict[str, Stored] = {}
    c = _RECORDS.c
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        matches = c.external_id == any_(_id_array(chunk)) if postgres else c.external_id.in_(chunk)
        query = select(c.external_id, c.data_hash, c.source_modified_us, c.deleted_us).where(
            c.stream_id == stream_id, matches
        )
        for external_id, data_hash, source_modified_us, deleted_us in await conn.execute(query):
            found[external_id] = Stored(data_hash, source_modified_us, deleted_us)
    return found


async def _mark_seen(conn: AsyncConnection, stream_id: int, ids: Sequence[str], run_id: str) -> None:
    for start in range(0, len(ids), _CHUNK):
        await conn.execute(
            update(_RECORDS)
            .where(_RECORDS.c.stream_id == stream_id, _RECORDS.c.external_id.in_(ids[start : start + _CHUNK]))
            .values(seen_run=run_id)
        )


def _id_array(ids: list[str]) -> Any:
    return bindparam("ids", ids, type_=ARRAY(String(512)))
