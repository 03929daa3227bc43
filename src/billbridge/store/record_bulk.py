"""The columns of a written record and the ON CONFLICT clause both page writers share: a page is
one INSERT ... ON CONFLICT fed by the whole page.

PostgreSQL gets the columns as binary arrays, unnested server-side (``record_write``). Measured
against COPY into a staging table (three round trips) and one statement per row, this is the
fastest for BILL-sized pages (100 records): one round trip, no text parsing of arrays.

SQLite gets the rows as one multi-row ``VALUES`` statement (``record_sqlite``). An
``executemany`` steps the statement once per row, and the driver lets go of the interpreter lock
around every step: with the sync engine's other threads busy, each row then waits up to a switch
interval (5 ms) to get it back. One statement is one step; rows read from one JSON array by
``json_each`` cost SQLite a parse of the row per column.
"""

from __future__ import annotations

from typing import Final

# Every column of a row and its PostgreSQL type; first_seen_us is written only when a record is new.
COLUMNS: Final = {
    "stream_id": "int8",
    "external_id": "text",
    "seq": "int8",
    "payload": "text",
    "data_hash": "text",
    "source_modified_us": "int8",
    "first_seen_us": "int8",
    "last_modified_us": "int8",
    "last_action": "text",
    "deleted_us": "int8",
    "seen_run": "text",
}
UPDATED_COLUMNS: Final = tuple(c for c in COLUMNS if c not in {"stream_id", "external_id", "first_seen_us"})
# An older copy of a record (by BILL's updatedTime) never overwrites a newer one, even when two
# pages holding the same record are written at once.
NOT_OLDER: Final = (
    "records.source_modified_us IS NULL OR excluded.source_modified_us IS NULL "
    "OR excluded.source_modified_us >= records.source_modified_us"
)
ON_CONFLICT: Final = (
    "ON CONFLICT (stream_id, external_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in UPDATED_COLUMNS)
    + f" WHERE {NOT_OLDER}"
)
