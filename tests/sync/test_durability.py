"""A sync process killed (SIGKILL) in the middle of a large first run resumes when run again: the
final records equal the simulator's, none missing, none twice, and no stored page is fetched again;
also when it was killed while a window split off by the run was paging."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from billbridge.cli.demo import demo_credentials
from billbridge.settings import get_settings
from billbridge.store import Database, RecordRepository, SyncStateRepository
from billbridge.store.walks import WALKS
from billbridge.sync.cursor import Cursor, parse_time
from billbridge.sync.windows import split
from support.processes import clean_environ, free_port, start, stop

BILLBRIDGE = str(Path(sys.executable).parent / "billbridge")
RECORDS = 5_000
PAGE = 100

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    url: str = request.getfixturevalue("postgres_database_url")
    return {"BILLBRIDGE_DATABASE_URL": url}


async def stored_records(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    settings = get_settings(
        data_dir=env["BILLBRIDGE_DATA_DIR"], database_url=env.get("BILLBRIDGE_DATABASE_URL")
    )
    db = await Database.open(settings)
    try:
        records = RecordRepository(db)
        found: dict[str, dict[str, Any]] = {}
        cursor = None
        while True:
            page = await records.list(1, "Vendor", cursor=cursor, limit=10_000)
            for record in page.records():
                found[str(record["id"])] = record
            cursor = page.next_cursor
            if cursor is None:
                return found
    finally:
        await db.close()


@contextmanager
def simulator(tmp_path: Path, *, records: int, latency_ms: int) -> Iterator[str]:
    """``billbridge simulator`` as a process for the block; yields its root URL."""
    command = [BILLBRIDGE, "simulator", "--port", "0", "--records", str(records)]
    sim = start(
        [*command, "--latency-ms", str(latency_ms)],
        log=tmp_path / "simulator.log",
        ready=r"listening on (http://127\.0\.0\.1:\d+)",
    )
    try:
        yield sim.ready.group(1)
    finally:
        stop(sim.process)


def link(url: str, env: dict[str, str]) -> None:
    creds = demo_credentials(httpx.get(f"{url}/_sim/world", timeout=10).json())
    linked = subprocess.run(
        [
            BILLBRIDGE,
            "link",
            "-i",
            "bill-sandbox",
            "--username",
            creds["username"],
            "--organization-id",
            creds["organization_id"],
            "--connection-id",
            "c1",
            "--no-input",
        ],
        env=clean_environ(
            **env, BILLBRIDGE_LINK_PASSWORD=creds["password"], BILLBRIDGE_LINK_DEV_KEY=creds["dev_key"]
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert linked.returncode == 0, linked.stdout + linked.stderr


def sync_env(tmp_path: Path, url: str, database_env: dict[str, str]) -> dict[str, str]:
    return {
        "BILLBRIDGE_DATA_DIR": str(tmp_path / "data"),
        "BILLBRIDGE_BILL_SANDBOX_URL": url,
        "BILLBRIDGE_BILL_PRODUCTION_URL": f"http://127.0.0.1:{free_port()}",
        "BILLBRIDGE_SYNC_DEFAULTS": "none",
        **database_env,
    }


def sim_records(url: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = httpx.get(
        f"{url}/_sim/objects", params={"family": "vendors"}, timeout=30
    ).json()["results"]
    return results


async def walks(env: dict[str, str]) -> list[str]:
    """The ids of the walks that stored a page of the run going now."""
    settings = get_settings(
        data_dir=env["BILLBRIDGE_DATA_DIR"], database_url=env.get("BILLBRIDGE_DATABASE_URL")
    )
    db = await Database.open(settings)
    try:
        async with db.session() as session:
            return list((await session.execute(select(WALKS.c.walk_id))).scalars())
    finally:
        await db.close()


async def latest_result(env: dict[str, str]) -> Any:
    settings = get_settings(
        data_dir=env["BILLBRIDGE_DATA_DIR"], database_url=env.get("BILLBRIDGE_DATABASE_URL")
    )
    db = await Database.open(settings)
    try:
        state = await SyncStateRepository(db).get(1, "vendors")
        assert state is not None
        return state.latest_result
    finally:
        await db.close()


async def kill_and_resume(
    url: str, env: dict[str, str], tmp_path: Path, killed_when: Callable[[], Awaitable[bool]]
) -> tuple[int, int]:
    """``sync run`` killed with SIGKILL once ``killed_when()`` holds, then run again to the end.

    Returns the records stored before the kill and the simulator's requests the second run made;
    asserts that the records stored in the end are exactly the simulator's.
    """
    command = [BILLBRIDGE, "sync", "run", "c1", "--sync", "vendors"]
    first = start(command, log=tmp_path / "first.log", ready=r"Sync run of connection c1", env=env)
    while not await killed_when():
        assert first.process.poll() is None, (tmp_path / "first.log").read_text()
        await asyncio.sleep(0.05)
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(10)
    partial = len(await stored_records(env))
    requests_before = httpx.get(f"{url}/_sim/stats").json()["requests"]

    second = subprocess.run(
        command, env=clean_environ(**env), capture_output=True, text=True, timeout=180, check=False
    )

    assert second.returncode == 0, second.stdout + second.stderr
    stored = await stored_records(env)
    assert {rid: {k: v for k, v in r.items() if k != "_nango_metadata"} for rid, r in stored.items()} == {
        r["id"]: r for r in sim_records(url)
    }
    return partial, httpx.get(f"{url}/_sim/stats").json()["requests"] - requests_before


async def test_killed_first_run_resumes_where_it_stopped(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    with simulator(tmp_path, records=RECORDS, latency_ms=150) as url:
        env = sync_env(tmp_path, url, database_env)
        link(url, env)

        async def a_quarter_stored() -> bool:
            return len(await stored_records(env)) >= RECORDS // 4

        partial, requests = await kill_and_resume(url, env, tmp_path, a_quarter_stored)

        assert partial < RECORDS
        # The resumed run fetched only what was not stored yet: about the missing pages, plus the
        # pages that were in flight when the process died (one per window at most).
        missing_pages = -(-(RECORDS - partial) // (PAGE - 1))
        assert requests <= missing_pages + 8 + 2


async def test_killed_while_a_split_window_pages_resumes_exactly(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    records, windows = 3_000, 12
    with simulator(tmp_path, records=records, latency_ms=200) as url:
        # Two thirds of the records crowd into the last bounded window (the windows are cut from
        # the 100th oldest record to the newest), so it is paged alone at the end and splits.
        ordered = sorted(sim_records(url), key=lambda r: (r["updatedTime"], r["id"]))
        last = split(Cursor(since=ordered[99]["updatedTime"]), ordered[-1]["updatedTime"], count=windows)[-2]
        dense_low, dense_high = parse_time(last.since), parse_time(last.until)
        assert dense_low is not None
        assert dense_high is not None
        crowd = [r for r in ordered[100:-1] if r["updatedTime"] != ordered[-1]["updatedTime"]][:2_000]
        step = (dense_high - dense_low) * 3 / 5 / len(crowd)
        with httpx.Client(base_url=url, timeout=10) as sim_client:
            org = sim_client.get("/_sim/world").json()["organizations"][0]["id"]
            for i, record in enumerate(crowd):
                stamp: datetime = dense_low + (dense_high - dense_low) / 5 + step * i
                sim_client.post(
                    "/_sim/objects",
                    json={
                        "action": "change",
                        "family": "vendors",
                        "organization_id": org,
                        "id": record["id"],
                        "fields": {"updatedTime": stamp.isoformat(timespec="milliseconds")},
                    },
                ).raise_for_status()
        env = sync_env(tmp_path, url, database_env)
        link(url, env)

        # Killed once a window split off another has stored a page (split windows' ids end in "s").
        async def a_split_window_stored() -> bool:
            return any(w.endswith("s") for w in await walks(env))

        partial, requests = await kill_and_resume(url, env, tmp_path, a_split_window_stored)

        assert partial < records
        # The run's counts, across the kill and every split window, are exact.
        result = await latest_result(env)
        assert result.added + result.deleted == records
        # Nothing stored was fetched again: the missing pages, plus one in flight per walk at most.
        missing_pages = -(-(records - partial) // (PAGE - 1))
        assert requests <= missing_pages + 16
