"""How fast syncs store BILL records, against BILL's own ceiling, and what they cost.

    .venv/bin/python bench/sync_throughput.py [--only a,b,c,d] [--database-url postgresql+psycopg://...]

Starts ``billbridge simulator`` and the syncing processes (``billbridge sync run``, or
``billbridge worker`` x 2 with ``billbridge serve`` queueing) on loopback ports, links accounts with
``billbridge link``, and reads the outcome from the database (each sync's ``started_at`` and
``finished_at``), so process start-up is outside every rate.

(a) one family (vendors) of 100,000 records, simulator latency 100 ms, one organization, SQLite:
    records/s against BILL's ceiling for one organization (3 pages of 100 in flight per round trip
    = 3,000 records/s); target >= 90 % (one page at a time would reach 33 %). ``--a-skew N`` first
    moves N vendors into the last bounded window, so that window holds far more than the others
    (the tail that windows splitting while slots sit idle take away).
(b) 3, then 10 organizations at once, each with a developer key of its own (the simulator's
    ``--dev-keys``), latency 100 ms, two workers on PostgreSQL: aggregate records/s against that
    many times the ceiling, CPU seconds per 1,000 records (serve and workers), and how busy the
    machine's CPUs were (every process: simulator and PostgreSQL included).
(c) no latency, one organization: 100,000 then 1,000,000 records into SQLite and PostgreSQL:
    records/s stored (target >= 20,000) and the syncing process's peak RSS (target < 250 MB and
    flat between 100,000 and 1,000,000).
(d) the 1,000,000 records of (c) paged through ``GET /records`` with limit 10,000: records/s served
    (target >= 50,000).

PostgreSQL comes from ``--database-url`` (an admin URL; a database is created per phase) or
``BILLBRIDGE_TEST_POSTGRES_URL``; without either, the PostgreSQL parts are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url

from billbridge.settings import get_settings
from billbridge.store import Database, RecordRepository, SyncStateRepository
from billbridge.sync.cursor import Cursor
from billbridge.sync.windows import split
from keeper_support import billbridge, child_env, cpu_seconds, free_port, load_average, process, simulator

CEILING_PER_ORG = 3 * 100 / 0.100  # 3 pages of 100 records per 100 ms round trip


@dataclass
class Outcome:
    records: int
    seconds: float
    peak_rss_mb: float = 0.0
    cpu: float = 0.0
    machine_busy: float = 0.0

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (Linux ``/proc/stat``)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


def busy_share(before: tuple[float, float], after: tuple[float, float]) -> float:
    """The share of the machine's CPU time that was busy between two :func:`machine_cpu` readings."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else 0.0


def credentials(world: dict[str, Any], index: int) -> dict[str, str]:
    org = world["organizations"][index]
    return {
        "username": org["users"][0]["username"],
        "password": org["users"][0]["password"],
        "organization_id": org["id"],
        # The most specific key: with one key per organization, nobody shares its hourly budget.
        "dev_key": min(
            (k for k in world["dev_keys"] if org["id"] in k["organization_ids"]),
            key=lambda k: len(k["organization_ids"]),
        )["key"],
    }


def link(env: dict[str, str], creds: dict[str, str], connection_id: str) -> None:
    command = billbridge(
        "link", "-i", "bill-sandbox", "--username", creds["username"], "--organization-id",
        creds["organization_id"], "--connection-id", connection_id, "--no-input",
    )  # fmt: skip
    extra = {"BILLBRIDGE_LINK_PASSWORD": creds["password"], "BILLBRIDGE_LINK_DEV_KEY": creds["dev_key"]}
    subprocess.run(command, env=child_env(**env, **extra), check=True, capture_output=True, timeout=120)


def warm(sim: str, family: str, organization_id: str) -> None:
    """Generate the family in the simulator now, outside the measured run."""
    params = {"family": family, "organization_id": organization_id}
    # Streamed and dropped: the bench process stays small. The syncing process is spawned from it,
    # and the peak RSS that wait4 reports counts the parent's RSS at the spawn (1.2 GB once this
    # read 1,000,000 records into memory).
    with httpx.stream("GET", f"{sim}/_sim/objects", params=params, timeout=600) as answer:
        answer.raise_for_status()
        for _ in answer.iter_raw():
            pass


async def outcome(env: dict[str, str], connection_ids: list[str], sync: str = "vendors") -> Outcome:
    """Records stored and wall time from the first run's start to the last run's end."""
    settings = get_settings(
        data_dir=env["BILLBRIDGE_DATA_DIR"], database_url=env.get("BILLBRIDGE_DATABASE_URL")
    )
    db = await Database.open(settings)
    try:
        states = SyncStateRepository(db)
        records = RecordRepository(db)
        found = [s for s in await states.list(names=[sync]) if s.connection_id in connection_ids]
        starts = [s.started_at for s in found if s.started_at]
        ends = [s.finished_at for s in found if s.finished_at]
        total = 0
        for state in found:
            total += (await records.counts(state.connection_pk)).get(state.model, 0)
        if not starts or not ends or any(s.status != "SUCCESS" for s in found):
            raise RuntimeError(
                f"runs did not all succeed: {[(s.connection_id, s.status, s.last_error) for s in found]}"
            )
        return Outcome(total, (max(ends) - min(starts)).total_seconds())
    finally:
        await db.close()


async def wait_finished(env: dict[str, str], connection_ids: list[str], *, after: datetime) -> None:
    """Until every connection's vendors sync has finished a run started after ``after``."""
    settings = get_settings(
        data_dir=env["BILLBRIDGE_DATA_DIR"], database_url=env.get("BILLBRIDGE_DATABASE_URL")
    )
    db = await Database.open(settings)
    try:
        states = SyncStateRepository(db)
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            found = [s for s in await states.list(names=["vendors"]) if s.connection_id in connection_ids]
            done = [
                s
                for s in found
                if s.started_at and s.started_at >= after and s.finished_at and s.finished_at >= s.started_at
            ]
            if len(done) == len(connection_ids):
                return
            await asyncio.sleep(0.5)
        raise RuntimeError("the runs did not finish within 30 minutes")
    finally:
        await db.close()


def sync_run(env: dict[str, str], connection_id: str) -> tuple[float, float]:
    """``billbridge sync run`` to the end; returns its peak RSS (MB) and CPU seconds (start-up included)."""
    command = billbridge("sync", "run", connection_id, "--sync", "vendors")
    proc = subprocess.Popen(
        command, env=child_env(**env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"sync run failed with status {proc.returncode}")
    return usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def base_env(work: Path, sim: str, database_url: str | None) -> dict[str, str]:
    env = {
        "BILLBRIDGE_DATA_DIR": str(work),
        "BILLBRIDGE_BILL_SANDBOX_URL": sim,
        "BILLBRIDGE_BILL_PRODUCTION_URL": f"http://127.0.0.1:{free_port()}",
        "BILLBRIDGE_SYNC_DEFAULTS": "none",
        "BILLBRIDGE_LOG_LEVEL": "WARNING",
    }
    if database_url:
        env["BILLBRIDGE_DATABASE_URL"] = database_url
    return env


# What the phases leave behind (a 1,000,000-record data directory weighs about 850 MB), removed
# when the bench ends however it ends.
_scratch_dirs: list[Path] = []
_scratch_databases: list[tuple[str, str]] = []


def scratch_dir(prefix: str) -> Path:
    work = Path(tempfile.mkdtemp(prefix=prefix))
    _scratch_dirs.append(work)
    return work


def fresh_postgres(admin_url: str) -> str:
    name = f"bench_sync_{uuid.uuid4().hex[:10]}"
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _scratch_databases.append((dsn, name))
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def clean_up() -> None:
    """Remove every data directory and database the phases created."""
    for work in _scratch_dirs:
        shutil.rmtree(work, ignore_errors=True)
    for dsn, name in _scratch_databases:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Windows a first run is cut into (the sync engine's default).
WINDOWS = 12


def crowd(sim: str, organization_id: str, count: int) -> None:
    """Move ``count`` vendors into the middle three fifths of the last bounded window a first run
    will cut (each on its own millisecond), taken from the oldest after the first page: that window
    then holds ``count`` more records than the others."""
    params = {"family": "vendors", "organization_id": organization_id}
    found = httpx.get(f"{sim}/_sim/objects", params=params, timeout=600).json()["results"]
    found.sort(key=lambda r: (r["updatedTime"], r["id"]))
    # The windows the run will cut: after its first page (100 records) up to the newest record.
    windows = split(Cursor(since=found[99]["updatedTime"]), found[-1]["updatedTime"], count=WINDOWS)
    start, end = (datetime.fromisoformat(str(bound)) for bound in (windows[-2].since, windows[-2].until))
    moved = [r for r in found[100:] if r["updatedTime"] != found[-1]["updatedTime"]][:count]
    step = (end - start) * 3 / 5 / len(moved)
    with httpx.Client(base_url=sim, timeout=30) as client:
        for i, record in enumerate(moved):
            stamp = start + (end - start) / 5 + step * i
            body = {
                "action": "change",
                "family": "vendors",
                "organization_id": organization_id,
                "id": record["id"],
                "fields": {"updatedTime": stamp.isoformat(timespec="milliseconds")},
            }
            client.post("/_sim/objects", json=body).raise_for_status()


def one_org(
    records: int, latency_ms: int, database_url: str | None, *, skew: int = 0
) -> tuple[Outcome, dict[str, str]]:
    """Sync one organization's vendors with ``billbridge sync run``; the data stays for (d)."""
    work = scratch_dir("bench-sync-")
    with simulator(organizations=1, records=records, latency_ms=latency_ms) as sim:
        world = httpx.get(f"{sim}/_sim/world", timeout=30).json()
        env = base_env(work, sim, database_url)
        creds = credentials(world, 0)
        link(env, creds, "bench")
        warm(sim, "vendors", creds["organization_id"])
        if skew:
            crowd(sim, creds["organization_id"], skew)
        before = machine_cpu()
        peak, cpu = sync_run(env, "bench")
        busy = busy_share(before, machine_cpu())
        result = asyncio.run(outcome(env, ["bench"]))
        result.peak_rss_mb, result.cpu, result.machine_busy = peak, cpu, busy
        return result, env


def phase_a(records: int, skew: int = 0) -> None:
    result, _ = one_org(records, 100, None, skew=skew)
    crowded = f", {skew:,} moved into the last bounded window" if skew else ""
    print(
        f"(a) {result.records:,} vendors{crowded}, 100 ms latency, SQLite: {result.rate:,.0f} records/s in "
        f"{result.seconds:.1f} s = {result.rate / CEILING_PER_ORG:.0%} of BILL's ceiling "
        f"({CEILING_PER_ORG:,.0f}/s; target >= 90 %); syncing process {result.cpu:.1f} CPU s in all; "
        f"the machine's CPUs {result.machine_busy:.0%} busy meanwhile"
    )


def phase_b(admin_url: str, orgs: int, records: int) -> None:
    work = scratch_dir("bench-sync-b-")
    database_url = fresh_postgres(admin_url)
    secret_key = str(uuid.uuid4())
    with simulator(organizations=orgs, records=records, latency_ms=100, dev_keys=orgs + 3) as sim:
        world = httpx.get(f"{sim}/_sim/world", timeout=30).json()
        env = {
            **base_env(work, sim, database_url),
            "BILLBRIDGE_SECRET_KEY": secret_key,
            "BILLBRIDGE_SYNC_DEFAULTS": "vendors",
        }
        ids = [f"org-{i}" for i in range(orgs)]
        for i, connection_id in enumerate(ids):
            creds = credentials(world, i)
            link(env, creds, connection_id)
            warm(sim, "vendors", creds["organization_id"])
        port = free_port()
        api = f"http://127.0.0.1:{port}"
        serve = billbridge("serve", "--port", str(port))
        # Before the processes start: a tick of serve may queue the due syncs before the triggers do.
        triggered = datetime.now(UTC)
        with (
            process(serve, ready_url=f"{api}/health", env=child_env(**env)) as server,
            process(
                billbridge("worker", "--id", "w1"), ready_url=f"{api}/health", env=child_env(**env)
            ) as w1,
            process(
                billbridge("worker", "--id", "w2"), ready_url=f"{api}/health", env=child_env(**env)
            ) as w2,
        ):
            time.sleep(3)  # the workers launch DBOS and start polling the queue
            pids = [server.pid, w1.pid, w2.pid]
            cpu_before = sum(cpu_seconds(pid) or 0.0 for pid in pids)
            machine_before = machine_cpu()
            auth = {"Authorization": f"Bearer {secret_key}"}
            for connection_id in ids:
                body = {
                    "syncs": ["vendors"],
                    "provider_config_key": "bill-sandbox",
                    "connection_id": connection_id,
                }
                httpx.post(f"{api}/sync/trigger", headers=auth, json=body, timeout=30).raise_for_status()
            asyncio.run(wait_finished(env, ids, after=triggered))
            cpu = sum(cpu_seconds(pid) or 0.0 for pid in pids) - cpu_before
            busy = busy_share(machine_before, machine_cpu())
        result = asyncio.run(outcome(env, ids))
    ceiling = CEILING_PER_ORG * orgs
    print(
        f"(b) {orgs} organizations x {records:,} vendors, 100 ms latency, 2 workers on PostgreSQL: "
        f"{result.rate:,.0f} records/s = {result.rate / ceiling:.0%} of {orgs} x the ceiling "
        f"({ceiling:,.0f}/s); {cpu / result.records * 1000:.2f} CPU s per 1,000 records (serve + workers), "
        f"{cpu / result.seconds:.2f} CPU s/s in them; the machine's CPUs {busy:.0%} busy (every process)"
    )


def phase_c(sizes: list[int], admin_url: str | None) -> dict[str, str] | None:
    backends: list[tuple[str, str | None]] = [("SQLite", None)]
    if admin_url:
        backends.append(("PostgreSQL", admin_url))
    keep: dict[str, str] | None = None
    for name, admin in backends:
        for size in sizes:
            result, env = one_org(size, 0, fresh_postgres(admin) if admin else None)
            print(
                f"(c) {name}, {size:,} vendors, no latency: {result.rate:,.0f} records/s stored "
                f"(target >= 20,000), peak RSS {result.peak_rss_mb:,.0f} MB (target < 250 MB), "
                f"{result.cpu:.1f} CPU s = {result.records / result.cpu:,.0f} records per CPU second "
                f"(start-up included); the machine's CPUs {result.machine_busy:.0%} busy meanwhile"
            )
            if name == "SQLite" and size == max(sizes):
                keep = env
    return keep


def phase_d(env: dict[str, str]) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    secret_key = str(uuid.uuid4())
    env = {**env, "BILLBRIDGE_SECRET_KEY": secret_key, "BILLBRIDGE_SYNCS_IN_API": "off"}
    with process(billbridge("serve", "--port", str(port)), ready_url=f"{api}/health", env=child_env(**env)):
        headers = {
            "Authorization": f"Bearer {secret_key}",
            "Connection-Id": "bench",
            "Provider-Config-Key": "bill-sandbox",
        }
        served = 0
        cursor: str | None = None
        started = time.perf_counter()
        with httpx.Client(base_url=api, headers=headers, timeout=120) as client:
            while True:
                params = {"model": "Vendor", "limit": "10000", **({"cursor": cursor} if cursor else {})}
                page = client.get("/records", params=params).raise_for_status().json()
                served += len(page["records"])
                cursor = page["next_cursor"]
                if not cursor:
                    break
        seconds = time.perf_counter() - started
    print(
        f"(d) GET /records, limit 10,000: {served:,} records in {seconds:.1f} s = "
        f"{served / seconds:,.0f} records/s (target >= 50,000)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="a,b,c,d", help="Phases to run, e.g. a,c.")
    parser.add_argument("--database-url", default=os.environ.get("BILLBRIDGE_TEST_POSTGRES_URL"))
    parser.add_argument("--a-records", type=int, default=100_000)
    parser.add_argument(
        "--a-skew",
        type=int,
        default=0,
        help="(a): vendors moved into the last bounded window first, so one window holds more",
    )
    parser.add_argument(
        "--b-organizations", default="3,10", help="Organization counts for (b), comma separated."
    )
    parser.add_argument("--b-records", type=int, default=20_000)
    parser.add_argument("--c-records", default="100000,1000000", help="Sizes for (c), comma separated.")
    args = parser.parse_args()
    phases = set(args.only.split(","))
    print(load_average())
    if "a" in phases:
        phase_a(args.a_records, args.a_skew)
    if "b" in phases:
        if args.database_url:
            for orgs in (int(n) for n in args.b_organizations.split(",")):
                phase_b(args.database_url, orgs, args.b_records)
        else:
            print("(b) skipped: no PostgreSQL (--database-url or BILLBRIDGE_TEST_POSTGRES_URL)")
    kept = None
    if "c" in phases or "d" in phases:
        kept = phase_c([int(n) for n in args.c_records.split(",")], args.database_url)
    if "d" in phases and kept is not None:
        phase_d(kept)
    print(load_average())


if __name__ == "__main__":
    try:
        main()
    finally:
        clean_up()
