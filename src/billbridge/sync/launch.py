"""Where DBOS keeps its state and how this process takes part: SQLite beside the embedded database,
or the schema ``dbos`` of the shared PostgreSQL database for workers."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig
from sqlalchemy.engine import make_url

from billbridge.settings import Settings

APP_NAME = "billbridge"
# The SQLite engines handed to DBOS, disposed when it stops (DBOS leaves a given engine open).
_engines: dict[str, sa.Engine] = {}


def app_version() -> str:
    """The version every process of one deployment shares (DBOS only recovers its own version's runs)."""
    try:
        return f"billbridge-{version('billbridge')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
        return "billbridge-dev"


def system_database_url(settings: Settings) -> str:
    """DBOS's database: ``dbos.sqlite`` in the data directory, or the PostgreSQL database itself."""
    if settings.is_sqlite:
        return f"sqlite:///{(settings.data_dir / 'dbos.sqlite').resolve()}"
    url = make_url(settings.resolved_database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def default_executor_id(role: str) -> str:
    """A stable id per host and role, so a restarted worker recovers the runs it was doing."""
    return f"{role}-{socket.gethostname()}"


@dataclass(frozen=True, slots=True)
class DbosOptions:
    """How this process runs DBOS.

    Attributes:
        system_database_url: DBOS's state (SQLite file or PostgreSQL URL).
        run_syncs: whether this process dequeues and runs syncs (API processes on PostgreSQL may not).
        executor_id: this process's id; a process restarted with the same id resumes its runs.
        worker_concurrency: sync runs this process runs at once.
        polling_interval: seconds between looks at the queue.
        tick_cron: the schedule of the tick that queues due syncs (None: no tick).
        system_schema: the PostgreSQL schema of DBOS's tables.
        takeover_interval: seconds between looks for the runs of dead processes (PostgreSQL,
            processes that run syncs; 0: never).
    """

    system_database_url: str
    run_syncs: bool = True
    executor_id: str = "local"
    worker_concurrency: int = 20
    polling_interval: float = 1.0
    tick_cron: str | None = "* * * * *"
    system_schema: str = "dbos"
    takeover_interval: float = 15.0

    @property
    def is_sqlite(self) -> bool:
        return self.system_database_url.startswith("sqlite")

    @classmethod
    def from_settings(
        cls, settings: Settings, *, run_syncs: bool = True, executor_id: str = "local"
    ) -> DbosOptions:
        """Options on the configured database (SQLite file or the shared PostgreSQL)."""
        return cls(
            system_database_url(settings),
            run_syncs=run_syncs,
            executor_id=executor_id,
            takeover_interval=settings.worker_takeover_seconds,
        )


def has_unfinished_workflows(system_database_url: str) -> bool:
    """Whether DBOS's SQLite database holds a workflow not yet finished (queued, running or
    delayed), read without launching DBOS; False when the file or its tables do not exist yet."""
    path = make_url(system_database_url).database
    if not path or not Path(path).exists():
        return False
    conn = sqlite3.connect(path, timeout=30)
    try:
        found = conn.execute(
            "SELECT 1 FROM workflow_status WHERE status IN ('PENDING', 'ENQUEUED', 'DELAYED') LIMIT 1"
        ).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return False
        raise
    finally:
        conn.close()
    return found is not None


async def launch_dbos(options: DbosOptions, *, queues: list[str]) -> None:
    """Configure and launch DBOS in this process, listening to ``queues`` (none: enqueue only).

    Called from the event loop that will run the workflows: DBOS adopts the running loop.
    """
    config: DBOSConfig = {
        "name": APP_NAME,
        "system_database_url": options.system_database_url,
        "system_database_engine": _engines.setdefault(
            options.system_database_url, sqlite_engine(options.system_database_url)
        )
        if options.is_sqlite
        else None,
        "application_version": app_version(),
        "executor_id": options.executor_id,
        "dbos_system_schema": options.system_schema,
        "log_level": os.environ.get("BILLBRIDGE_DBOS_LOG_LEVEL", "WARNING"),
    }
    _route_dbos_logs()
    DBOS(config=config)
    DBOS.listen_queues(queues)
    DBOS.launch()


def _route_dbos_logs() -> None:
    """DBOS's records go through billbridge's logging (redacted, to the stderr of the moment).

    Left alone, DBOS gives its logger a console handler bound to whatever ``sys.stderr`` is when it
    starts, which may be a stream closed since (a CLI runner's buffer), and which skips redaction.
    """
    dbos_log = logging.getLogger("dbos")
    if not dbos_log.handlers:
        dbos_log.addHandler(logging.NullHandler())
    dbos_log.propagate = True


def sqlite_engine(url: str) -> sa.Engine:
    """DBOS's SQLite engine as DBOS makes it (IMMEDIATE transactions, busy timeout, foreign keys),
    in WAL mode with ``synchronous=NORMAL``, like billbridge's own SQLite database.

    DBOS's default journal syncs the disk at every step it records (one per stored page), which
    caps a sync at the disk's fsync rate; WAL keeps every committed step across a killed process.
    """
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = "IMMEDIATE"
        for pragma in ("busy_timeout=30000", "foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL"):
            dbapi_conn.execute(f"PRAGMA {pragma}")

    return engine


async def shutdown_dbos() -> None:
    """Stop DBOS; the workflow registrations stay for the next launch in this process."""
    DBOS.destroy(destroy_registry=False)
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
