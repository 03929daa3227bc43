"""Writing a page of records to PostgreSQL in one statement: the columns as binary arrays, unnested
server-side into one INSERT ... ON CONFLICT.

Measured against COPY into a staging table (three round trips) and one statement per row, this
is the fastest for BILL-sized pages (100 records): one round trip, no text parsing of arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

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
_UPSERT: Final = (
    f"INSERT INTO records ({', '.join(COLUMNS)}) "  # noqa: S608 (constant identifiers only)
    f"SELECT * FROM unnest({', '.join(f'%b::{kind}[]' for kind in COLUMNS.values())}) "
    "ON CONFLICT (stream_id, external_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in UPDATED_COLUMNS)
    + f" WHERE {NOT_OLDER}"
    # xmax is 0 on a row this statement inserted (not on one it updated).
    + " RETURNING (xmax = 0)"
)


async def write_rows_postgres(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or update ``rows`` (dicts keyed by :data:`COLUMNS`) in the current transaction;
    returns how many were inserted."""
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection  # psycopg's AsyncConnection, inside SQLAlchemy's transaction
    arrays = [[row[column] for row in rows] for column in COLUMNS]
    async with driver.cursor() as cursor:
        await cursor.execute(_UPSERT, arrays)
        return sum(1 for (inserted,) in await cursor.fetchall() if inserted)
