"""The operations log: what happened to which connection, and how it ended. Never secrets."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import select

from billbridge.store.db import Database
from billbridge.store.domain import Clock, Operation, utc_now
from billbridge.store.models import OperationRow


class OperationRepository:
    """Appends to and reads the operations log."""

    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def record(
        self,
        *,
        kind: str,
        outcome: str,
        connection_id: str | None = None,
        provider_config_key: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Operation:
        """Append one entry, e.g. ``kind="login", outcome="invalid_credentials"``.

        ``detail`` is stored as JSON in plaintext: put no secret in it.
        """
        row = OperationRow(
            kind=kind,
            outcome=outcome,
            connection_id=connection_id,
            provider_config_key=provider_config_key,
            detail=dict(detail) if detail is not None else None,
            created_at=self._clock(),
        )
        async with self._db.transaction() as session:
            session.add(row)
            await session.flush()
            return _to_domain(row)

    async def list(
        self,
        *,
        connection_id: str | None = None,
        provider_config_key: str | None = None,
        kind: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Operation]:
        """Entries matching every given filter, newest first."""
        query = select(OperationRow)
        if connection_id is not None:
            query = query.where(OperationRow.connection_id == connection_id)
        if provider_config_key is not None:
            query = query.where(OperationRow.provider_config_key == provider_config_key)
        if kind is not None:
            query = query.where(OperationRow.kind == kind)
        if outcome is not None:
            query = query.where(OperationRow.outcome == outcome)
        query = (
            query.order_by(OperationRow.created_at.desc(), OperationRow.id.desc()).limit(limit).offset(offset)
        )
        async with self._db.session() as session:
            return [_to_domain(row) for row in (await session.execute(query)).scalars()]


def _to_domain(row: OperationRow) -> Operation:
    return Operation(
        pk=row.id,
        kind=row.kind,
        outcome=row.outcome,
        connection_id=row.connection_id,
        provider_config_key=row.provider_config_key,
        detail=dict(row.detail) if row.detail is not None else None,
        created_at=row.created_at,
    )
