"""How many records a connection holds per model, as Nango's sync status counts them.

Nango's ``recordCount`` goes up for each record added or restored and down for each one deleted
(archived at BILL, or gone from a full refresh): it counts live records. Deleted records keep
their row here (their payload is served with ``deleted_at``), so the count leaves them out.
"""

from __future__ import annotations

from sqlalchemy import and_, func, select

from billbridge.store.db import Database
from billbridge.store.models import RecordRow, RecordStreamRow, table_of

_RECORDS = table_of(RecordRow)
_STREAMS = table_of(RecordStreamRow)


async def live_record_counts(db: Database, connection_pk: int) -> dict[str, int]:
    """Records not deleted, per model of the connection (a model with none counts 0)."""
    live = and_(_RECORDS.c.stream_id == _STREAMS.c.id, _RECORDS.c.deleted_us.is_(None))
    query = (
        select(_STREAMS.c.model, func.count(_RECORDS.c.external_id))
        .select_from(_STREAMS.outerjoin(_RECORDS, live))
        .where(_STREAMS.c.connection_pk == connection_pk)
        .group_by(_STREAMS.c.model)
    )
    async with db.session() as session:
        return {str(model): int(count) for model, count in (await session.execute(query)).all()}
