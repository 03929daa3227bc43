"""Pages of 100 records per second the BILL simulator serves, raw and through ``billbridge.bill``.

    .venv/bin/python bench/simulator_throughput.py [--records 100000] [--repeats 3] [--seconds 3]

Starts ``billbridge simulator`` (uvicorn) on a free loopback port, signs in to every organization
and drives it with an aiohttp load generator: as many list walkers per organization as BILL lets
be in flight (3), each following ``nextPage`` to the end and starting again, for ``--seconds`` or
until the load has read 18,000 pages (BILL's hourly budget is 20,000 requests per developer key).
Three loads, each repeated ``--repeats`` times, medians printed:

- unfiltered: ``GET /v3/vendors?max=100``;
- filtered + sorted: ``GET /v3/bills?max=100&filters=archived:eq:false,dueDate:gte:...&sort=
  dueDate:desc,createdTime:asc``, a new ``dueDate`` bound every repetition, so the first page of each
  repetition evaluates the query over all records (included in the rate);
- the unfiltered walk through ``BillClient.pages(...)`` (aiohttp transport), as a ratio to raw.

Between loads the simulated clock moves an hour ahead (BILL's hourly budget of 20,000 requests
per developer key resets at the top of the hour) and the walkers sign in again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from billbridge.bill import BillClient, Limits, environment

SRC = Path(__file__).resolve().parents[1] / "src"
IN_FLIGHT = 3
PAGE = 100
UNFILTERED = "vendors"
FILTERED = "bills"
SORT = "dueDate:desc,createdTime:asc"
# BILL allows 20,000 requests per developer key per hour; one load stays below that.
PAGES_PER_LOAD = 18_000


@dataclass(frozen=True)
class Login:
    """One signed-in session of one organization."""

    organization_id: str
    headers: dict[str, str]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def simulator(*, records: int, organizations: int) -> Iterator[str]:
    """``billbridge simulator`` in its own process; yields the gateway root once it answers."""
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    command = [
        sys.executable, "-c", "from billbridge.cli import main; main()", "simulator",
        "--host", "127.0.0.1", "--port", str(port), "--records", str(records),
        "--organizations", str(organizations),
    ]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the simulator exited with status {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the simulator did not start within 60 s") from None
                time.sleep(0.1)
        yield root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def next_token(body: bytes) -> str | None:
    """The ``nextPage`` token of a page (found without parsing the 100 records)."""
    start = body.rfind(b'"nextPage":"')
    if start < 0:
        return None
    start += len(b'"nextPage":"')
    return body[start : body.index(b'"', start)].decode()


async def sign_in(http: aiohttp.ClientSession, root: str) -> list[Login]:
    """Sign in to every organization with the first developer key (it may enter them all)."""
    async with http.get(f"{root}/_sim/world") as response:
        world: dict[str, Any] = await response.json()
    dev_key = world["dev_keys"][0]["key"]
    logins = []
    for org in world["organizations"]:
        user = org["users"][0]
        body = {"username": user["username"], "password": user["password"], "organizationId": org["id"]}
        async with http.post(f"{root}/connect/v3/login", json={**body, "devKey": dev_key}) as response:
            answer = await response.json()
        logins.append(Login(org["id"], {"devKey": dev_key, "sessionId": answer["sessionId"]}))
    return logins


async def next_hour(http: aiohttp.ClientSession, root: str) -> None:
    """Move the simulated clock an hour ahead: hourly budgets reset (and sessions die)."""
    async with http.post(f"{root}/_sim/clock/advance", json={"seconds": 3600}) as response:
        response.raise_for_status()


async def walk(http: aiohttp.ClientSession, first: str, login: Login, deadline: float, limit: int) -> int:
    """Follow ``nextPage`` from ``first`` (starting over at the end) until ``deadline`` or ``limit`` pages."""
    pages = 0
    url = first
    base = first.split("?", 1)[0]
    while pages < limit and time.perf_counter() < deadline:
        async with http.get(URL(url, encoded=True), headers=login.headers) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"{response.status}: {body[:200]!r}")
        pages += 1
        token = next_token(body)
        url = f"{base}?max={PAGE}&page={token}" if token else first
    return pages


async def timed(walkers: list[Callable[[], Awaitable[int]]]) -> float:
    """Run the walkers together; pages per second."""
    started = time.perf_counter()
    counts = await asyncio.gather(*(w() for w in walkers))
    return sum(counts) / (time.perf_counter() - started)


async def raw_rate(http: aiohttp.ClientSession, root: str, query: str, family: str, seconds: float) -> float:
    """Pages per second of raw aiohttp walkers over ``family`` with ``query``."""
    logins = await sign_in(http, root)
    first = f"{root}/connect/v3/{family}?{query}"
    limit = PAGES_PER_LOAD // (len(logins) * IN_FLIGHT)
    deadline = time.perf_counter() + seconds
    return await timed(
        [lambda lg=lg: walk(http, first, lg, deadline, limit) for lg in logins for _ in range(IN_FLIGHT)]
    )


async def client_rate(root: str, http: aiohttp.ClientSession, seconds: float) -> float:
    """Pages per second of the same walk through ``BillClient.pages``."""
    async with http.get(f"{root}/_sim/world") as response:
        world: dict[str, Any] = await response.json()
    dev_key = world["dev_keys"][0]["key"]
    client = BillClient(environment("sandbox", root), limits=Limits())  # default transport: aiohttp
    try:
        auths = []
        for org in world["organizations"]:
            user = org["users"][0]
            result = await client.login(
                username=user["username"],
                password=user["password"],
                organization_id=org["id"],
                dev_key=dev_key,
            )
            auths.append(result.auth(dev_key))
        limit = PAGES_PER_LOAD // (len(auths) * IN_FLIGHT)
        deadline = time.perf_counter() + seconds

        async def walker(auth: Any) -> int:
            pages = 0
            while pages < limit and time.perf_counter() < deadline:
                async for _page in client.pages(UNFILTERED, auth=auth, max=PAGE):
                    pages += 1
                    if pages >= limit or time.perf_counter() >= deadline:
                        break
            return pages

        return await timed([lambda a=a: walker(a) for a in auths for _ in range(IN_FLIGHT)])
    finally:
        await client.aclose()


async def cold_query_ms(http: aiohttp.ClientSession, root: str, query: str) -> float:
    """Milliseconds for the first page of a query nobody has asked before."""
    login = (await sign_in(http, root))[0]
    started = time.perf_counter()
    async with http.get(
        URL(f"{root}/connect/v3/{FILTERED}?{query}", encoded=True), headers=login.headers
    ) as r:
        await r.read()
    return (time.perf_counter() - started) * 1000


def filtered_query(repeat: int, variant: int = 0) -> str:
    """A filters + sort query with a bound no earlier repetition used."""
    bound = f"2024-{(repeat * 3 + variant) % 12 + 1:02d}-{repeat % 27 + 1:02d}"
    filters = f'archived:eq:false,dueDate:gte:"{bound}"'
    return urlencode({"max": PAGE, "filters": filters, "sort": SORT})


async def run(args: argparse.Namespace) -> None:
    with simulator(records=args.records, organizations=args.organizations) as root:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:
            print(
                f"simulator at {root}: {args.records} records per family, "
                f"{args.organizations} organizations; {load_average()}"
            )
            started = time.perf_counter()
            for login in await sign_in(http, root):  # build both families of every organization once
                for family in (UNFILTERED, FILTERED):
                    async with http.get(f"{root}/connect/v3/{family}?max=1", headers=login.headers) as r:
                        await r.read()
            print(f"first access (lazy generation of {2 * args.organizations} families): "
                  f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            raw, filtered, through_client, cold = [], [], [], []
            plain = urlencode({"max": PAGE})
            for repeat in range(args.repeats):
                await next_hour(http, root)
                raw.append(await raw_rate(http, root, plain, UNFILTERED, args.seconds))
                await next_hour(http, root)
                cold.append(await cold_query_ms(http, root, filtered_query(repeat, variant=1)))
                filtered.append(await raw_rate(http, root, filtered_query(repeat), FILTERED, args.seconds))
                await next_hour(http, root)
                through_client.append(await client_rate(root, http, args.seconds))
                print(
                    f"  run {repeat + 1}: raw {raw[-1]:.0f}, filtered+sorted {filtered[-1]:.0f}, "
                    f"through billbridge.bill {through_client[-1]:.0f} pages/s"
                )
    median_raw = statistics.median(raw)
    median_client = statistics.median(through_client)
    print(f"unfiltered        {median_raw:8.0f} pages/s of {PAGE} (median of {args.repeats}; target 1000)")
    print(f"filters + sort    {statistics.median(filtered):8.0f} pages/s of {PAGE} (target >= 300)")
    print(f"cold filtered query, first page: {statistics.median(cold):.0f} ms over {args.records} records")
    ratio = median_client / median_raw
    print(f"billbridge.bill   {median_client:8.0f} pages/s; ratio to raw aiohttp: {ratio:.2f}")
    print(f"at the end: {load_average()}")


def load_average() -> str:
    """The machine's 1/5/15-minute load averages: context for every figure measured here."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--organizations", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
