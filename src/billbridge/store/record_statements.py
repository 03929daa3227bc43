"""The statements that write pages of records, built once per dialect with bound parameters.

A sync writes thousands of small pages; building and compiling each statement again per page cost
more than running it, so they are made once and only their parameters change. Parameter names
start with ``b_`` (SQLAlchemy reserves column names in INSERT and UPDATE).
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import String, and_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from billbridge.store.models import RecordRow, RecordStreamRow, table_of

RECORDS = table_of(RecordRow)
STREAMS = table_of(RecordStreamRow)


# Text, not an insert() construct: SQLAlchemy cannot cache the compiled form of an ON CONFLICT DO
# UPDATE with a CASE, and compiled it again for every page (a third of a page write's time). The
# same SQL runs on both databases.
ADVANCE: Final = text(
    "INSERT INTO record_streams (connection_pk, model, last_seq, last_modified_us, record_count) "
    "VALUES (:b_connection_pk, :b_model, :b_changes, :b_now, :b_new_rows) "
    "ON CONFLICT (connection_pk, model) DO UPDATE SET "
    "last_seq = record_streams.last_seq + excluded.last_seq, "
    "last_modified_us = CASE WHEN record_streams.last_modified_us > excluded.last_modified_us "
    "THEN record_streams.last_modified_us ELSE excluded.last_modified_us END, "
    "record_count = record_streams.record_count + excluded.record_count "
    "RETURNING id, last_seq, last_modified_us"
)


class RecordStatements:
    """``advance``: b_connection_pk, b_model, b_changes, b_new_rows, b_now; ``stored`` and
    ``mark_seen``: b_connection_pk, b_model, b_ids (a list), b_run_id."""

    def __init__(self, *, postgres: bool) -> None:
        # Creates or updates the stream's row, which stays locked until commit: the changes of one
        # stream commit in the order of their seq numbers, and the instant never goes back.
        self.advance: Any = ADVANCE
        s = STREAMS.c
        stream_id = (
            select(s.id)
            .where(s.connection_pk == bindparam("b_connection_pk"), s.model == bindparam("b_model"))
            .scalar_subquery()
        )
        c = RECORDS.c
        columns = (c.external_id, c.data_hash, c.source_modified_us, c.deleted_us)
        if postgres:
            # Joined to the unnested id array, not "= ANY(array)": the driver prepares repeated
            # statements, and PostgreSQL's generic plan for ANY scans the whole stream instead of
            # looking each id up in the primary key.
            wanted: Any = (
                func.unnest(bindparam("b_ids", type_=ARRAY(String(512)))).table_valued("id").render_derived()
            )
            self.stored: Any = (
                select(*columns)
                .select_from(wanted)
                .join(RECORDS, and_(c.stream_id == stream_id, c.external_id == wanted.c.id))
            )
            self.mark_seen: Any = (
                update(RECORDS)
                .where(c.stream_id == stream_id, c.external_id == wanted.c.id)
                .values(seen_run=bindparam("b_run_id"))
            )
        else:
            ids = c.external_id.in_(bindparam("b_ids", expanding=True))
            self.stored = select(*columns).where(c.stream_id == stream_id, ids)
            self.mark_seen = (
                update(RECORDS).where(c.stream_id == stream_id, ids).values(seen_run=bindparam("b_run_id"))
            )
