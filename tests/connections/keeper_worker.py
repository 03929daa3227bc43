"""One "server process" of the cross-process tests: a keeper and proxy on a shared database.

Prints ``ready`` once set up (other output lines are logs), waits for ``go`` on stdin (so all
workers start together), sends ``--callers`` concurrent proxied ``GET /v3/vendors`` and prints
``result`` and the statuses as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from datetime import datetime, timedelta

from billbridge.connections import BillClients, Integration, Proxy, SessionKeeper, utc_now
from billbridge.store import ConnectionRepository, Keyring, create_database, parse_keys


async def main(args: argparse.Namespace) -> None:
    offset = timedelta(seconds=args.offset_seconds)

    def clock() -> datetime:
        return utc_now() + offset

    db = await create_database(args.database_url, run_migrations=False)
    repo = ConnectionRepository(db, Keyring(parse_keys(args.key_line)), clock=clock)
    integration = Integration(
        unique_key="bill-sandbox",
        display_name="Bill (Connect API Sandbox)",
        environment="sandbox",
        gateway=args.gateway,
    )
    clients = BillClients({"bill-sandbox": integration}, max_retries=0)
    keeper = SessionKeeper(repo, clients, clock=clock)
    proxy = Proxy(keeper, clients)
    try:
        conn = await keeper.lookup(args.connection_id, "bill-sandbox")
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        results = await asyncio.gather(
            *(
                proxy.forward(conn, method="GET", path="/v3/vendors", query=[("max", "1")])
                for _ in range(args.callers)
            ),
            return_exceptions=True,
        )
        outcome = Counter(
            str(r.status) if not isinstance(r, BaseException) else type(r).__name__ for r in results
        )
        print("result", json.dumps(dict(outcome)), flush=True)
    finally:
        await keeper.aclose()
        await clients.aclose()
        await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--key-line", required=True)
    parser.add_argument("--connection-id", required=True)
    parser.add_argument("--callers", type=int, default=100)
    parser.add_argument("--offset-seconds", type=float, default=0.0)
    asyncio.run(main(parser.parse_args()))
