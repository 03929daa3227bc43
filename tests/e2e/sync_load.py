"""A process that keeps sync-priority BILL requests of one connection going, as a busy worker does.

Builds the runtime from the ``BILLBRIDGE_*`` settings (the same database as the servers), then
``--callers`` loops each send ``GET /v3/vendors`` with ``priority="sync"`` one after another.
Prints ``running`` once the first answer came; on SIGINT or SIGTERM it stops and prints
``result`` and a JSON object: answers by status and failures by error type.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections import Counter

from billbridge.errors import BillbridgeError
from billbridge.runtime import open_runtime
from billbridge.settings import Settings


async def main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    outcome: Counter[str] = Counter()
    async with open_runtime(Settings()) as runtime:
        conn = await runtime.keeper.lookup(args.connection_id, "bill-sandbox")
        client = runtime.clients.for_integration("bill-sandbox")

        async def requests() -> None:
            while not stop.is_set():
                try:
                    await client.request(
                        "GET",
                        "/v3/vendors",
                        auth=runtime.keeper.auth(conn),
                        params={"max": "1"},
                        priority="sync",
                    )
                except BillbridgeError as exc:
                    outcome[type(exc).__name__] += 1
                else:
                    if not outcome:
                        print("running", flush=True)
                    outcome["200"] += 1

        await asyncio.gather(*(requests() for _ in range(args.callers)))
    print("result", json.dumps(dict(outcome)), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--connection-id", required=True)
    parser.add_argument("--callers", type=int, default=6)
    asyncio.run(main(parser.parse_args()))
