"""BILL's hourly budgets counted in the database, so every process of a deployment shares them.

One row per (developer key digest, hour), and for the fair shares of sync budgets one per
(developer key digest, hour, organization). Every change is one atomic statement
(``INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING``): a process reserves units only if
they fit under the cap, whatever the other processes do at the same moment.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from billbridge.store.db import Database
from billbridge.store.models import BudgetRow, SyncShareRow, table_of

_TABLE = table_of(BudgetRow)
_SHARES = table_of(SyncShareRow)


class BudgetRepository:
    """Counts of requests and logins per developer key digest and hour (hours since the epoch)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._insert: Any = postgresql.insert if db.is_postgres else sqlite.insert

    async def reserve(self, key_digest: str, hour: int, count: int, *, cap: int) -> int | None:
        """Add ``count`` requests if the hour's total stays within ``cap``.

        Returns:
            The new total (the reserved units are the last ``count`` of it), or None if they do
            not fit (nothing is counted then).
        """
        table = _TABLE
        statement = (
            self._insert(table)
            .values(key_digest=key_digest, hour=hour, requests=count, logins=0)
            .on_conflict_do_update(
                index_elements=[table.c.key_digest, table.c.hour],
                set_={"requests": table.c.requests + count},
                where=table.c.requests + count <= cap,
            )
            .returning(table.c.requests)
        )
        if count > cap:
            return None
        async with self._db.transaction() as session:
            total = (await session.execute(statement)).scalar_one_or_none()
        return None if total is None else int(total)

    async def reserve_share(
        self,
        key_digest: str,
        hour: int,
        organization_id: str,
        count: int,
        *,
        sync_part: int,
        now: int,
        active_since: int,
    ) -> int | None:
        """Add ``count`` sync requests of an organization if they stay within its fair share.

        The share is ``sync_part`` divided by the organizations of this developer key syncing now:
        this one and those that reserved since ``active_since`` this hour (no limit while it is
        the only one). One statement, so
        processes reserving at the same moment cannot both go over.

        Returns:
            The organization's new total this hour, or None if the requests do not fit.
        """
        table = _SHARES
        others = (
            select(func.count())
            .select_from(table)
            .where(
                table.c.key_digest == key_digest,
                table.c.hour == hour,
                table.c.organization_id != organization_id,
                table.c.last_spent >= active_since,
            )
            .scalar_subquery()
        )
        share = literal(sync_part) // (others + 1)
        statement = (
            self._insert(table)
            .values(
                key_digest=key_digest, hour=hour, organization_id=organization_id, spent=count, last_spent=now
            )
            .on_conflict_do_update(
                index_elements=[table.c.key_digest, table.c.hour, table.c.organization_id],
                set_={"spent": table.c.spent + count, "last_spent": now},
                # Alone, an organization has the whole sync part: the live reserve bounds it.
                where=(others == 0) | (table.c.spent + count <= share),
            )
            .returning(table.c.spent)
        )
        async with self._db.transaction() as session:
            total = (await session.execute(statement)).scalar_one_or_none()
        return None if total is None else int(total)

    async def count_login(self, key_digest: str, hour: int, *, cap: int, login_cap: int) -> bool:
        """Add one login (which is also a request) if both stay within their caps."""
        table = _TABLE
        statement = (
            self._insert(table)
            .values(key_digest=key_digest, hour=hour, requests=1, logins=1)
            .on_conflict_do_update(
                index_elements=[table.c.key_digest, table.c.hour],
                set_={"requests": table.c.requests + 1, "logins": table.c.logins + 1},
                where=(table.c.requests + 1 <= cap) & (table.c.logins + 1 <= login_cap),
            )
            .returning(table.c.logins)
        )
        async with self._db.transaction() as session:
            return (await session.execute(statement)).scalar_one_or_none() is not None

    async def exhaust(self, key_digest: str, hour: int, *, requests: int | None, logins: int | None) -> None:
        """Raise the hour's counts to at least the given values (BILL said the budget is spent)."""
        table = _TABLE
        values = {"requests": requests or 0, "logins": logins or 0}
        changes: dict[str, Any] = {}
        if requests is not None:
            changes["requests"] = _greatest(table.c.requests, requests)
        if logins is not None:
            changes["logins"] = _greatest(table.c.logins, logins)
        statement = (
            self._insert(table)
            .values(key_digest=key_digest, hour=hour, **values)
            .on_conflict_do_update(index_elements=[table.c.key_digest, table.c.hour], set_=changes)
        )
        async with self._db.transaction() as session:
            await session.execute(statement)

    async def read(self, key_digest: str, hour: int) -> tuple[int, int]:
        """(requests, logins) counted in ``hour`` (zeros if none)."""
        query = select(BudgetRow.requests, BudgetRow.logins).where(
            BudgetRow.key_digest == key_digest, BudgetRow.hour == hour
        )
        async with self._db.session() as session:
            row = (await session.execute(query)).one_or_none()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    async def purge(self, before_hour: int) -> None:
        """Forget hours before ``before_hour`` (they no longer limit anything)."""
        async with self._db.transaction() as session:
            await session.execute(delete(BudgetRow).where(BudgetRow.hour < before_hour))
            await session.execute(delete(SyncShareRow).where(SyncShareRow.hour < before_hour))


def _greatest(column: Any, value: int) -> Any:
    return case((column < value, value), else_=column)
