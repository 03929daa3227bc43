"""Logins caused by N concurrent callers on an expired session (target: exactly 1 for every N).

    .venv/bin/python bench/login_storm.py [--repeats 3] [--database-url URL]

Starts the simulator on a loopback port, links one connection per storm, lets its session idle
for 36 simulated minutes (the simulator's clock and the keeper's move together), then sends N
concurrent proxied ``GET /v3/vendors`` through one keeper and counts ``POST /v3/login`` with the
simulator's ``/_sim/stats``. SQLite in a temporary directory unless ``--database-url`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog
from pydantic import SecretStr

from billbridge.connections import BillClients, Integration, Proxy, SessionKeeper, utc_now
from billbridge.store import (
    BillCredentials,
    ConnectionRepository,
    Keyring,
    SessionState,
    create_database,
    generate_key,
)
from keeper_support import load_average, median, simulator

IDLE_SECONDS = 36 * 60
CALLERS = (1, 10, 100, 1000)


class OffsetClock:
    """Wall time plus the simulated time the storms have skipped."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utc_now() + self.offset


async def storm(
    *,
    n: int,
    index: int,
    sim: httpx.AsyncClient,
    clock: OffsetClock,
    repo: ConnectionRepository,
    clients: BillClients,
    creds: BillCredentials,
) -> tuple[int, float, Counter[str]]:
    """Link, expire, storm; returns (logins caused, seconds, outcome counts)."""
    login = await clients.for_integration("bill-sandbox").login(
        username=creds.username,
        password=creds.password,
        organization_id=creds.organization_id,
        dev_key=creds.dev_key,
    )
    now = clock()
    conn, _ = await repo.upsert_linked(
        connection_id=f"storm-{n}-{index}",
        provider_config_key="bill-sandbox",
        environment="sandbox",
        credentials=creds,
        session=SessionState(
            session_id=login.session_id, user_id=login.user_id, started_at=now, last_used_at=now
        ),
        end_user=None,
        tags={},
        webhook_url_override=None,
        connection_config={},
    )
    (await sim.post("/_sim/clock/advance", json={"seconds": IDLE_SECONDS})).raise_for_status()
    clock.offset += timedelta(seconds=IDLE_SECONDS)
    # A fresh keeper per storm: like a process that has never seen this connection's session.
    keeper = SessionKeeper(repo, clients, clock=clock)
    proxy = Proxy(keeper, clients)
    cached = await keeper.lookup(conn.connection_id, conn.provider_config_key)
    before = (await sim.get("/_sim/stats")).json()["logins"]
    started = time.perf_counter()
    results = await asyncio.gather(
        *(proxy.forward(cached, method="GET", path="/v3/vendors", query=[("max", "1")]) for _ in range(n)),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - started
    after = (await sim.get("/_sim/stats")).json()["logins"]
    await keeper.aclose()
    outcomes = Counter(type(r).__name__ if isinstance(r, BaseException) else str(r.status) for r in results)
    return after - before, elapsed, outcomes


async def main(args: argparse.Namespace) -> int:
    with simulator(organizations=3, records=20) as gateway, tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'storm.db'}"
        db = await create_database(url)
        clock = OffsetClock()
        repo = ConnectionRepository(db, Keyring([generate_key()]), clock=clock)
        integration = Integration(
            unique_key="bill-sandbox",
            display_name="Bill (Connect API Sandbox)",
            environment="sandbox",
            gateway=gateway,
        )
        clients = BillClients({"bill-sandbox": integration}, max_retries=0)
        failed = False
        try:
            async with httpx.AsyncClient(base_url=gateway) as sim:
                creds = _credentials((await sim.get("/_sim/world")).json())
                print(
                    f"login storm: {'PostgreSQL' if db.is_postgres else 'SQLite'}, "
                    f"{args.repeats} runs per N; {load_average()}"
                )
                print(f"{'N':>6} {'logins (each run)':>20} {'median s':>9} {'outcomes':>14}")
                for n in CALLERS:
                    logins: list[int] = []
                    seconds: list[float] = []
                    outcomes: Counter[str] = Counter()
                    for index in range(args.repeats):
                        made, elapsed, seen = await storm(
                            n=n, index=index, sim=sim, clock=clock, repo=repo, clients=clients, creds=creds
                        )
                        logins.append(made)
                        seconds.append(elapsed)
                        outcomes += seen
                    failed |= any(made != 1 for made in logins) or set(outcomes) != {"200"}
                    shown = ", ".join(str(made) for made in logins)
                    summary = ", ".join(f"{k}x{v}" for k, v in sorted(outcomes.items()))
                    print(f"{n:>6} {shown:>20} {median(seconds):>9.3f} {summary:>14}")
                print("target: exactly 1 login for every N" + ("  -> MISSED" if failed else "  -> met"))
        finally:
            await clients.aclose()
            await db.close()
    return 1 if failed else 0


def _credentials(world: dict[str, Any]) -> BillCredentials:
    org = world["organizations"][0]
    user = org["users"][0]
    dev_key = next(k["key"] for k in world["dev_keys"] if org["id"] in k["organization_ids"])
    return BillCredentials(
        username=user["username"],
        password=SecretStr(user["password"]),
        organization_id=org["id"],
        dev_key=SecretStr(dev_key),
    )


if __name__ == "__main__":
    # The keeper logs each login at INFO; the table is the output here.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="storms per N (default 3)")
    parser.add_argument("--database-url", help="store to use (default: SQLite in a temporary directory)")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
