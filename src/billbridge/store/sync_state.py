"""The state of each sync of each connection: schedule, last run, checkpoint, latest result.

The sync engine writes it as runs start, store pages and end; the sync API and CLI read it.
``status`` is the last run's outcome (RUNNING, SUCCESS, ERROR, or STOPPED when the engine gave
up, e.g. on invalid credentials); ``enabled`` is the schedule (start/pause). What the API reports
combines both as Nango does (:attr:`SyncState.reported_status`).
"""

from __future__ import annotations

import builtins
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billbridge.errors import NotFoundError
from billbridge.store.db import Database
from billbridge.store.domain import Clock, utc_now
from billbridge.store.models import ConnectionRow, SyncStateRow

SyncStatus = Literal["RUNNING", "SUCCESS", "ERROR", "PAUSED", "STOPPED"]
SyncType = Literal["INITIAL", "INCREMENTAL"]
RunStatus = Literal["SUCCESS", "ERROR", "STOPPED"]
_NEVER_RUN: Final = "SUCCESS"


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What one run changed."""

    added: int = 0
    updated: int = 0
    deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"added": self.added, "updated": self.updated, "deleted": self.deleted}

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deleted)


@dataclass(frozen=True, slots=True)
class SyncCheckpoint:
    """A checkpoint to save with a page of records: the sync's name and its JSON value."""

    name: str
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SyncState:
    """One sync of one connection, as stored."""

    connection_pk: int
    connection_id: str
    provider_config_key: str
    name: str
    model: str
    frequency: str
    frequency_seconds: int
    enabled: bool
    status: SyncStatus
    sync_type: SyncType
    checkpoint: dict[str, Any] | None
    latest_result: SyncResult | None
    last_error: str | None
    run_id: str | None
    started_at: datetime | None
    finished_at: datetime | None
    next_scheduled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def reported_status(self) -> SyncStatus:
        """Nango's status: a running run wins, then a paused schedule, then the last outcome."""
        if self.status == "RUNNING":
            return "RUNNING"
        if not self.enabled:
            return "PAUSED"
        return self.status


class SyncStateRepository:
    """Reads and writes sync states; every write stamps ``updated_at``."""

    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def ensure(
        self, connection_pk: int, name: str, *, model: str, frequency: str, frequency_seconds: int
    ) -> SyncState:
        """Create the sync (enabled, never run) if it does not exist; an existing one is kept as is.

        Raises:
            NotFoundError: the connection does not exist.
        """
        now = self._clock()
        insert = postgresql.insert if self._db.is_postgres else sqlite.insert
        stmt = insert(SyncStateRow).values(
            connection_pk=connection_pk,
            name=name,
            model=model,
            frequency=frequency,
            frequency_seconds=frequency_seconds,
            enabled=True,
            status=_NEVER_RUN,
            sync_type="INITIAL",
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._db.transaction() as session:
                await session.execute(stmt.on_conflict_do_nothing(index_elements=["connection_pk", "name"]))
        except IntegrityError:
            raise NotFoundError(f"connection {connection_pk} does not exist") from None
        found = await self.get(connection_pk, name)
        assert found is not None
        return found

    async def get(self, connection_pk: int, name: str) -> SyncState | None:
        found = await self.list(connection_pk=connection_pk, names=[name])
        return found[0] if found else None

    async def list(
        self,
        *,
        connection_pk: int | None = None,
        provider_config_key: str | None = None,
        names: Collection[str] | None = None,
    ) -> builtins.list[SyncState]:
        """Sync states matching every given filter, by connection then name."""
        query = select(SyncStateRow, ConnectionRow.connection_id, ConnectionRow.provider_config_key).join(
            ConnectionRow, ConnectionRow.id == SyncStateRow.connection_pk
        )
        if connection_pk is not None:
            query = query.where(SyncStateRow.connection_pk == connection_pk)
        if provider_config_key is not None:
            query = query.where(ConnectionRow.provider_config_key == provider_config_key)
        if names is not None:
            query = query.where(SyncStateRow.name.in_(list(names)))
        query = query.order_by(ConnectionRow.connection_id, SyncStateRow.name)
        async with self._db.session() as session:
            return [_to_domain(row, cid, pck) for row, cid, pck in (await session.execute(query)).all()]

    async def any_enabled(self) -> bool:
        """Whether any connection has a sync whose schedule is on."""
        query = select(SyncStateRow.connection_pk).where(SyncStateRow.enabled.is_(True)).limit(1)
        async with self._db.session() as session:
            return (await session.execute(query)).first() is not None

    async def set_enabled(self, connection_pk: int, names: Collection[str], *, enabled: bool) -> int:
        """Start (enabled) or pause the schedule of the named syncs; returns how many matched."""
        return await self._update(connection_pk, names, enabled=enabled)

    async def set_frequency(self, connection_pk: int, name: str, frequency: str, seconds: int) -> int:
        """Change how often the sync runs (``frequency`` as shown, ``seconds`` as scheduled)."""
        return await self._update(connection_pk, [name], frequency=frequency, frequency_seconds=seconds)

    async def set_next_scheduled(self, connection_pk: int, name: str, at: datetime | None) -> int:
        return await self._update(connection_pk, [name], next_scheduled_at=at)

    async def run_started(self, connection_pk: int, name: str, *, run_id: str, sync_type: SyncType) -> int:
        """A run began: RUNNING, with its id and type (INITIAL or INCREMENTAL)."""
        return await self._update(
            connection_pk,
            [name],
            status="RUNNING",
            run_id=run_id,
            sync_type=sync_type,
            started_at=self._clock(),
        )

    async def run_finished(
        self,
        connection_pk: int,
        name: str,
        *,
        status: RunStatus,
        result: SyncResult | None = None,
        error: str | None = None,
        next_scheduled_at: datetime | None = None,
    ) -> int:
        """A run ended: SUCCESS (with its result), ERROR or STOPPED (with an error message).

        ``error`` is shown to API callers: put no secret in it.
        """
        values: dict[str, Any] = {
            "status": status,
            "finished_at": self._clock(),
            "last_error": error if status != "SUCCESS" else None,
            "next_scheduled_at": next_scheduled_at,
        }
        if result is not None:
            values["latest_result"] = result.as_dict()
        return await self._update(connection_pk, [name], **values)

    async def save_checkpoint(self, connection_pk: int, checkpoint: SyncCheckpoint) -> None:
        async with self._db.transaction() as session:
            await write_checkpoint(session, connection_pk, checkpoint, self._clock())

    async def reset(self, connection_pk: int, name: str) -> int:
        """Forget the checkpoint (the next run reads everything again, as INITIAL)."""
        return await self._update(connection_pk, [name], checkpoint=None, sync_type="INITIAL")

    async def delete_connection_syncs(self, connection_pk: int) -> int:
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(SyncStateRow).where(SyncStateRow.connection_pk == connection_pk)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def _update(self, connection_pk: int, names: Collection[str], **values: Any) -> int:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(SyncStateRow)
                .where(SyncStateRow.connection_pk == connection_pk, SyncStateRow.name.in_(list(names)))
                .values(updated_at=self._clock(), **values)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def write_checkpoint(
    session: AsyncSession, connection_pk: int, checkpoint: SyncCheckpoint, now: datetime
) -> None:
    """Save a sync's checkpoint inside the caller's transaction (with the page it belongs to)."""
    result = await session.execute(
        update(SyncStateRow)
        .where(SyncStateRow.connection_pk == connection_pk, SyncStateRow.name == checkpoint.name)
        .values(checkpoint=dict(checkpoint.value), updated_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError(f"sync {checkpoint.name!r} of connection {connection_pk} does not exist")


def _to_domain(row: SyncStateRow, connection_id: str, provider_config_key: str) -> SyncState:
    result = row.latest_result
    return SyncState(
        connection_pk=row.connection_pk,
        connection_id=connection_id,
        provider_config_key=provider_config_key,
        name=row.name,
        model=row.model,
        frequency=row.frequency,
        frequency_seconds=row.frequency_seconds,
        enabled=row.enabled,
        status=row.status,  # type: ignore[arg-type]
        sync_type=row.sync_type,  # type: ignore[arg-type]
        checkpoint=dict(row.checkpoint) if row.checkpoint is not None else None,
        latest_result=SyncResult(**{k: int(result.get(k, 0)) for k in ("added", "updated", "deleted")})
        if result is not None
        else None,
        last_error=row.last_error,
        run_id=row.run_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        next_scheduled_at=row.next_scheduled_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
