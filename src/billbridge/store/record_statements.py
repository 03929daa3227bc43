"""The record tables, and the stream's change counter as one statement made once.

Parameter names start with ``b_`` (SQLAlchemy reserves column names in INSERT and UPDATE). The
page writers have their own driver statements (``record_sqlite``, ``record_write``).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import text

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
