"""The statements that write pages of records, built once per dialect with bound parameters.

A sync writes thousands of small pages; building and compiling each statement again per page cost
more than running it, so they are made once and only their parameters change. Parameter names
start with ``b_`` (SQLAlchemy reserves column names in INSERT and UPDATE).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, and_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY

from billbridge.store.models import RecordRow, RecordStreamRow, table_of
from billbridge.store.record_bulk import UPDATED_COLUMNS

RECORDS = table_of(RecordRow)
STREAMS = table_of(RecordStreamRow)


class RecordStatements:
    """``advance``: b_connection_pk, b_model, b_changes, b_new_rows, b_now; ``stored`` and
    ``mark_seen``: b_connection_pk, b_model, b_ids (a list), b_run_id; ``sqlite_upsert``: rows."""

    def __init__(self, *, postgres: bool) -> None:
        insert = postgresql.insert if postgres else sqlite.insert
        stream = insert(STREAMS).values(
            connection_pk=bindparam("b_connection_pk"),
            model=bindparam("b_model"),
            last_seq=bindparam("b_changes"),
            last_modified_us=bindparam("b_now"),
            record_count=bindparam("b_new_rows"),
        )
        s, new = STREAMS.c, stream.excluded
        # Creates or updates the stream's row, which stays locked until commit: the changes of one
        # stream commit in the order of their seq numbers, and the instant never goes back.
        self.advance: Any = stream.on_conflict_do_update(
            index_elements=["connection_pk", "model"],
            set_={
                "last_seq": s.last_seq + new.last_seq,
                "last_modified_us": case(
                    (s.last_modified_us > new.last_modified_us, s.last_modified_us),
                    else_=new.last_modified_us,
                ),
                "record_count": s.record_count + new.record_count,
            },
        ).returning(s.id, s.last_seq, s.last_modified_us)
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
        upsert = sqlite.insert(RECORDS)
        # first_seen_us is only written by the INSERT: an update keeps when the record was first seen;
        # an older copy (by BILL's updatedTime) never overwrites a newer one.
        self.sqlite_upsert: Any = upsert.on_conflict_do_update(
            index_elements=["stream_id", "external_id"],
            set_={column: upsert.excluded[column] for column in UPDATED_COLUMNS},
            where=or_(
                c.source_modified_us.is_(None),
                upsert.excluded.source_modified_us.is_(None),
                upsert.excluded.source_modified_us >= c.source_modified_us,
            ),
        )
