"""Which processes are alive, and taking over the runs of those that died (PostgreSQL).

Every process that launches DBOS on PostgreSQL holds a PostgreSQL advisory lock named after its
executor id, on a connection of its own, for its whole life. The lock is the heartbeat: PostgreSQL
drops it the moment the process's connection ends (a killed process, a vanished machine once TCP
keepalives give up on it), with no clock to trust and no row to expire.

DBOS resumes a process's runs only when a process with the same executor id starts again. A worker
killed for good would leave its runs PENDING forever, and, since a (connection, sync) runs one at
a time, block that sync for good. So every process that runs syncs looks, every few seconds, for
executor ids that have PENDING runs but whose lock is free: their process is dead. It takes the
lock for a moment (a process restarting under that id waits), and has DBOS recover that executor's
runs (``DBOS._recover_pending_workflows``, which DBOS's own admin server uses for exactly this):
they go back to their queues and the first free process resumes each from its last recorded step,
so no stored page is fetched again.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import psycopg
from dbos import DBOS
from psycopg import sql
from sqlalchemy.engine import make_url

from billbridge.errors import ConfigurationError
from billbridge.sync.launch import app_version

# A process restarting under an id waits this long for a peer that holds its lock a moment.
ACQUIRE_WAIT: Final = 5.0


def _key(executor_id: str) -> int:
    digest = hashlib.sha256(f"billbridge-executor\0{executor_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ExecutorLock:
    """Holds this process's executor id for its life, so two processes never share one (DBOS would
    let both resume the same runs), and tells live ids from dead ones."""

    def __init__(self, database_url: str, executor_id: str) -> None:
        self._dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.executor_id = executor_id
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def acquire(self, *, wait: float = ACQUIRE_WAIT) -> None:
        """Take the id, or refuse with a message naming it.

        Raises:
            ConfigurationError: another live process holds this executor id.
        """
        conn = await self._connect()
        deadline = time.monotonic() + wait
        while not await _try_lock(conn, self.executor_id):
            if time.monotonic() >= deadline:
                await conn.close()
                raise ConfigurationError(
                    f"another billbridge process runs syncs as {self.executor_id!r} on this database; "
                    "give each worker its own --id (a restarted worker reuses its id to resume its runs)"
                )
            await asyncio.sleep(0.2)
        self._conn = conn

    async def keep(self) -> None:
        """Check that the lock is still held; after a lost connection, take it again.

        Raises:
            ConfigurationError: another process took the id while the connection was down.
        """
        if self._conn is not None and not self._conn.closed:
            try:
                await self._conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                pass
        await self.release()
        await self.acquire()

    @asynccontextmanager
    async def probe(self, executor_id: str) -> AsyncIterator[bool]:
        """Whether ``executor_id``'s process is dead (its lock was free); held inside the block."""
        conn = self._connection()
        dead = await _try_lock(conn, executor_id)
        try:
            yield dead
        finally:
            if dead:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (_key(executor_id),))

    async def executors_with_pending_runs(self, schema: str) -> list[str]:
        """Executor ids, other than this one, with PENDING workflows of this application version."""
        query = sql.SQL(
            "SELECT DISTINCT executor_id FROM {}.workflow_status "
            "WHERE status = 'PENDING' AND application_version = %s AND executor_id <> %s"
        ).format(sql.Identifier(schema))
        rows = await (await self._connection().execute(query, (app_version(), self.executor_id))).fetchall()
        return [str(row[0]) for row in rows]

    async def release(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None:
            raise RuntimeError("the executor lock is not held")
        return self._conn

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(
            self._dsn,
            autocommit=True,
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )
        # Both sides notice a vanished peer after about idle + interval * count = 25 seconds; the
        # server side drops the lock of a client that vanished without a word.
        for setting, value in (("idle", 10), ("interval", 5), ("count", 3)):
            statement = sql.SQL("SET tcp_keepalives_{} = {}").format(sql.SQL(setting), sql.Literal(value))
            await conn.execute(statement)
        return conn


async def _try_lock(conn: psycopg.AsyncConnection[Any], executor_id: str) -> bool:
    row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (_key(executor_id),))).fetchone()
    return bool(row and row[0])


async def take_over_dead_executors(lock: ExecutorLock, schema: str) -> dict[str, int]:
    """Hand the PENDING runs of every dead process back to the queues; returns {executor id: runs}."""
    taken: dict[str, int] = {}
    for executor in await lock.executors_with_pending_runs(schema):
        async with lock.probe(executor) as dead:
            if dead:
                handles = await asyncio.to_thread(DBOS._recover_pending_workflows, [executor])
                taken[executor] = len(handles)
    return taken
