"""The embedded server launches DBOS only once there is sync work: a server that only proxies runs
none of DBOS's polling threads, and one that gets work (a trigger, a sync linked by another
process, a run left unfinished) starts running it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import anyio.to_thread
import pytest
from dbos import DBOS
from sync_harness import SyncHarness

from billbridge.store import Connection
from billbridge.sync.launch import has_unfinished_workflows


@pytest.fixture
def database_url(sqlite_database_url: str) -> str:
    """The embedded server's case: SQLite (workers and PostgreSQL processes launch at once)."""
    return sqlite_database_url


def _dbos_file(harness: SyncHarness) -> Path:
    assert harness.engine.options is not None
    return Path(harness.engine.options.system_database_url.removeprefix("sqlite:///"))


async def test_no_sync_work_means_no_dbos(harness: SyncHarness) -> None:
    await harness.link()
    assert harness.engine.can_run
    assert not harness.engine.is_launched
    assert not _dbos_file(harness).exists(), "DBOS's database was created with nothing to run"


async def test_a_trigger_launches_the_engine_and_runs(harness: SyncHarness) -> None:
    conn = await harness.link()
    result = await harness.run(conn, "vendors")
    assert harness.engine.is_launched
    assert result["records"] == len(await harness.sim_objects("vendors"))


async def test_a_sync_created_elsewhere_wakes_the_engine(harness: SyncHarness) -> None:
    # Another process (``billbridge link``) gives a connection its syncs; this server finds them.
    await harness.engine.stop()
    harness.engine.idle_check_every = 0.05
    await harness.engine.start()
    conn = await harness.link()
    assert not harness.engine.is_launched
    await harness.states.ensure(
        conn.pk, "vendors", model="Vendor", frequency="every hour", frequency_seconds=3600
    )
    for _ in range(200):
        if harness.engine.is_launched:
            break
        await asyncio.sleep(0.05)
    assert harness.engine.is_launched, "the engine never noticed the new sync"


async def test_paused_syncs_leave_the_engine_idle(harness: SyncHarness) -> None:
    conn = await harness.link()
    await harness.states.ensure(
        conn.pk, "vendors", model="Vendor", frequency="every hour", frequency_seconds=3600
    )
    await harness.states.set_enabled(conn.pk, ["vendors"], enabled=False)
    await harness.engine.stop()
    await harness.engine.start()
    assert not harness.engine.is_launched
    await harness.states.set_enabled(conn.pk, ["vendors"], enabled=True)
    await harness.engine.stop()
    await harness.engine.start()
    assert harness.engine.is_launched


async def _unfinished_run(harness: SyncHarness, conn: Connection) -> str:
    """A run queued on a BILL slow enough that it is still going when the engine stops."""
    (await harness.sim.post("/_sim/faults", json={"latency_ms": 300})).raise_for_status()
    [queued] = await harness.engine.trigger(conn.pk, ["vendors"])
    assert queued.workflow_id is not None
    return queued.workflow_id


async def test_an_unfinished_run_launches_the_engine_at_start(harness: SyncHarness) -> None:
    conn = await harness.link()
    workflow_id = await _unfinished_run(harness, conn)
    assert await anyio.to_thread.run_sync(
        has_unfinished_workflows, harness.engine.options.system_database_url
    )  # type: ignore[union-attr]
    await harness.engine.stop()
    # Every schedule off: only the unfinished run is left to do.
    await harness.states.set_enabled(conn.pk, ["vendors"], enabled=False)
    (await harness.sim.post("/_sim/faults", json={"latency_ms": 0})).raise_for_status()
    await harness.engine.start()
    assert harness.engine.is_launched, "a run left unfinished was not resumed"
    handle = await DBOS.retrieve_workflow_async(workflow_id)
    result = await handle.get_result()
    assert result["records"] == len(await harness.sim_objects("vendors"))
    assert not await anyio.to_thread.run_sync(
        has_unfinished_workflows,
        harness.engine.options.system_database_url,  # type: ignore[union-attr]
    )
