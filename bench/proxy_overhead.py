"""What billbridge's proxy adds to BILL calls: throughput ratio and added latency, and raw capacity.

    .venv/bin/python bench/proxy_overhead.py [--requests 10000] [--stress-requests 12000]

Starts ``billbridge simulator`` and ``billbridge serve`` (SQLite, temporary data directory) as
processes on loopback ports, links 20 organizations through the HTTP API, then measures with an
aiohttp load generator:

(a) BILL-like: the simulator answers after 50 ms; 20 organizations, each kept at BILL's 3 requests
    in flight; ``GET /v3/vendors?max=20`` sent directly to the simulator and through
    ``/proxy/v3/vendors?max=20``: throughput ratio (target >= 0.95), added p50 (target < 2 ms)
    and p99 (target < 10 ms) latency.
(b) stress: no injected latency, 64 callers through one billbridge process: proxied requests/s
    (target >= 3,000), with the simulator's own rate (60 callers, 3 per organization) for scale.
(c) against a minimal proxy: a forwarding proxy written here (Starlette + aiohttp on the same
    uvicorn stack, no checks, no limits, sessions handed to it at start) and billbridge, each with
    a fresh simulator, 3 and 64 callers, no latency, in interleaved rounds: billbridge's throughput
    as a share of the minimal proxy's (target >= 0.85).

BILL allows 20,000 requests per developer key and hour, and the simulator and billbridge both
count them, so the default request numbers keep every developer key below that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from yarl import URL

from billbridge.cli import _server
from keeper_support import (
    Phase,
    billbridge,
    child_env,
    cpu_seconds,
    free_port,
    load_average,
    median,
    process,
    run_phase,
    simulator,
)

ORGANIZATIONS = 20
IN_FLIGHT = 3
LATENCY_MS = 50
STRESS_CALLERS = 64
ROUNDS = 5
# (c): enough organizations that 64 callers never put a fourth request in flight for one of them.
COMPARE_ORGANIZATIONS = 22
COMPARE_CALLERS = (3, 64)
COMPARE_TARGET = 0.85
SCRIPT = Path(__file__).resolve()
PATH = "/v3/vendors"
QUERY = "?max=20"


@dataclass
class Org:
    """One organization: how to reach it directly and through billbridge."""

    username: str
    password: str
    organization_id: str
    dev_key: str
    session_id: str = ""
    connection_id: str = ""


def choose_orgs(world: dict[str, Any], count: int = ORGANIZATIONS) -> list[Org]:
    """The first 20 organizations, each on its most specific developer key.

    The simulator's keys cover all, the first half and the last organization, so no key serves
    more than half of the organizations (and of the requests).
    """
    orgs = []
    for org in world["organizations"][:count]:
        allowed = [k for k in world["dev_keys"] if org["id"] in k["organization_ids"]]
        key = min(allowed, key=lambda k: len(k["organization_ids"]))
        user = org["users"][0]
        orgs.append(Org(user["username"], user["password"], org["id"], key["key"]))
    return orgs


async def link_all(server: str, secret_key: str, orgs: list[Org]) -> None:
    """Link every organization through billbridge's HTTP API, as an end user would."""
    bearer = {"Authorization": f"Bearer {secret_key}"}
    async with httpx.AsyncClient(base_url=server, timeout=30) as api:
        for index, org in enumerate(orgs):
            session = await api.post(
                "/connect/sessions", json={"end_user": {"id": f"bench-{index}"}}, headers=bearer
            )
            token = session.raise_for_status().json()["data"]["token"]
            linked = await api.post(
                "/auth/bill/bill-sandbox",
                params={"connect_session_token": token},
                json={
                    "username": org.username,
                    "password": org.password,
                    "organization_id": org.organization_id,
                    "dev_key": org.dev_key,
                },
            )
            org.connection_id = linked.raise_for_status().json()["connectionId"]


async def login_all(gateway: str, orgs: list[Org]) -> None:
    """Open one session per organization for the direct calls."""
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as bill:
        for org in orgs:
            answer = await bill.post(
                "/connect/v3/login",
                json={
                    "username": org.username,
                    "password": org.password,
                    "organizationId": org.organization_id,
                    "devKey": org.dev_key,
                },
            )
            org.session_id = answer.raise_for_status().json()["sessionId"]


def direct_targets(gateway: str, orgs: list[Org], per_org: int) -> list[tuple[str, dict[str, str]]]:
    url = f"{gateway}/connect{PATH}{QUERY}"
    return [(url, {"devKey": o.dev_key, "sessionId": o.session_id}) for o in orgs for _ in range(per_org)]


def proxied_targets(
    server: str, secret_key: str, orgs: list[Org], callers: int
) -> list[tuple[str, dict[str, str]]]:
    # The minimal proxy (c) reads the same headers, so both sides get identical requests.
    url = f"{server}/proxy{PATH}{QUERY}"
    return [
        (
            url,
            {
                "Authorization": f"Bearer {secret_key}",
                "Connection-Id": orgs[i % len(orgs)].connection_id,
                "Provider-Config-Key": "bill-sandbox",
            },
        )
        for i in range(callers)
    ]


def row(name: str, phase: Phase) -> str:
    errors = sum(phase.errors.values())
    return f"  {name:<16}{phase.rate:>9.0f}{phase.ms(0.5):>9.2f}{phase.ms(0.99):>9.2f}{errors:>8}"


@dataclass
class Results:
    """Every phase of one run."""

    direct: Phase
    proxied: Phase
    stress: Phase
    stress_direct: Phase
    server_cpu: float | None  # CPU seconds the billbridge process spent on the stress phase
    round_ratios: list[float]  # proxied / direct throughput of each interleaved round of (a)


async def measure(
    gateway: str, server: str, secret_key: str, orgs: list[Org], args: argparse.Namespace, *, server_pid: int
) -> Results:
    direct_a = direct_targets(gateway, orgs, IN_FLIGHT)
    proxied_a = proxied_targets(server, secret_key, orgs, ORGANIZATIONS * IN_FLIGHT)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http, httpx.AsyncClient(base_url=gateway) as sim:
        await sim.post("/_sim/faults", json={"latency_ms": LATENCY_MS})
        await run_phase(http, direct_a, 300)  # warm-up: connections, caches
        await run_phase(http, proxied_a, 300)
        # Interleaved rounds, so a neighbour's load on this machine hits both sides alike.
        direct, proxied = Phase(), Phase()
        round_ratios: list[float] = []
        for _ in range(ROUNDS):
            direct_round = await run_phase(http, direct_a, args.requests // ROUNDS)
            proxied_round = await run_phase(http, proxied_a, args.requests // ROUNDS)
            round_ratios.append(proxied_round.rate / direct_round.rate)
            direct.add(direct_round)
            proxied.add(proxied_round)

        await sim.post("/_sim/faults", json={"latency_ms": 0})
        stress_direct = await run_phase(http, direct_a, args.stress_requests // 4)
        cpu_before = cpu_seconds(server_pid)
        stress = await run_phase(
            http, proxied_targets(server, secret_key, orgs, STRESS_CALLERS), args.stress_requests
        )
        cpu_after = cpu_seconds(server_pid)
    server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Results(direct, proxied, stress, stress_direct, server_cpu, round_ratios)


def report(results: Results, args: argparse.Namespace) -> bool:
    """Print the figures; True if every target is met."""
    direct, proxied, stress = results.direct, results.proxied, results.stress
    ratio = proxied.rate / direct.rate
    added_p50 = proxied.ms(0.5) - direct.ms(0.5)
    added_p99 = proxied.ms(0.99) - direct.ms(0.99)
    header = f"  {'':<16}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
    print(
        f"(a) BILL-like: {LATENCY_MS} ms latency, {ORGANIZATIONS} orgs x {IN_FLIGHT} in flight, "
        f"{args.requests} GET {PATH}{QUERY} each way in {ROUNDS} interleaved rounds"
    )
    print(header)
    print(row("direct", direct))
    print(row("via billbridge", proxied))
    print(
        f"  throughput ratio {ratio:.3f} (target >= 0.95); median of the rounds' ratios "
        f"{median(results.round_ratios):.3f}"
    )
    print(f"  added latency p50 {added_p50:+.2f} ms (target < 2), p99 {added_p99:+.2f} ms (target < 10)")
    print(
        f"(b) stress: no latency, {STRESS_CALLERS} callers through one billbridge process, "
        f"{args.stress_requests} requests"
    )
    print(header)
    print(row("via billbridge", stress))
    print(row("direct (60)", results.stress_direct))
    print(f"  proxied {stress.rate:.0f} req/s (target >= 3000)")
    if results.server_cpu is not None:
        per_request = results.server_cpu / max(1, len(stress.latencies)) * 1e6
        print(f"  billbridge process CPU per proxied request: {per_request:.0f} us")
    phases = (direct, proxied, stress, results.stress_direct)
    for phase in phases:
        for sample in phase.samples:
            print(f"  error seen: {sample}")
    errors = sum(sum(p.errors.values()) for p in phases)
    met = ratio >= 0.95 and added_p50 < 2 and added_p99 < 10 and stress.rate >= 3000 and errors == 0
    print("targets " + ("met" if met else "MISSED"))
    return met


def minimal_proxy(gateway: str, sessions: dict[str, list[str]]) -> Starlette:
    """The baseline of (c): forward ``/proxy/...`` to the gateway with the caller's session, no checks.

    ``sessions`` maps a ``Connection-Id`` to the ``[devKey, sessionId]`` of a session opened
    beforehand; nothing is validated, limited, counted, retried or renewed.
    """
    state: dict[str, aiohttp.ClientSession] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=256)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:
            state["http"] = http
            yield

    async def forward(request: Request) -> Response:
        dev_key, session_id = sessions[request.headers["connection-id"]]
        url = f"{gateway}/connect/{request.path_params['path']}"
        if request.url.query:
            url += "?" + request.url.query
        body = await request.body()
        async with state["http"].request(
            request.method,
            URL(url, encoded=True),
            headers={"devKey": dev_key, "sessionId": session_id},
            data=body or None,
        ) as answer:
            content = await answer.read()
            return Response(content, status_code=answer.status, media_type=answer.content_type)

    return Starlette(
        routes=[Route("/proxy/{path:path}", forward, methods=["GET", "POST"])], lifespan=lifespan
    )


def serve_minimal_proxy(port: int, gateway: str, sessions_file: str) -> None:
    """Run :func:`minimal_proxy` on billbridge's own server stack (uvloop, httptools, tuned GC)."""
    sessions = json.loads(Path(sessions_file).read_text())
    app = minimal_proxy(gateway, sessions)

    async def health(_: Request) -> Response:
        return Response("ok")

    app.router.routes.append(Route("/health", health))
    config = _server.config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    _server.Server(config).run()


@dataclass
class Comparison:
    """(c): billbridge and the minimal proxy under the same callers."""

    callers: int
    billbridge: Phase
    minimal: Phase

    @property
    def ratio(self) -> float:
        return self.billbridge.rate / self.minimal.rate if self.minimal.rate else 0.0


async def compare(args: argparse.Namespace, secret_key: str) -> list[Comparison]:
    """(c) on a fresh simulator and billbridge, so (a) and (b) leave no budget spent behind."""
    results: list[Comparison] = []
    with (
        tempfile.TemporaryDirectory() as data_dir,
        simulator(organizations=COMPARE_ORGANIZATIONS, records=100, latency_ms=0) as gateway,
    ):
        async with httpx.AsyncClient() as sim:
            world = (await sim.get(gateway + "/_sim/world")).json()
        orgs = choose_orgs(world, COMPARE_ORGANIZATIONS)
        port, minimal_port = free_port(), free_port()
        server, minimal = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{minimal_port}"
        env = child_env(
            BILLBRIDGE_DATA_DIR=data_dir,
            BILLBRIDGE_SECRET_KEY=secret_key,
            BILLBRIDGE_BILL_SANDBOX_URL=gateway,
            BILLBRIDGE_LOG_LEVEL="WARNING",
        )
        command = billbridge("serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log")
        with process(command, ready_url=server + "/health", env=env):
            await link_all(server, secret_key, orgs)
            await login_all(gateway, orgs)
            sessions_file = Path(data_dir) / "minimal-sessions.json"
            sessions_file.write_text(json.dumps({o.connection_id: [o.dev_key, o.session_id] for o in orgs}))
            minimal_command = [
                sys.executable,
                str(SCRIPT),
                "--serve-minimal-proxy",
                str(minimal_port),
                gateway,
                str(sessions_file),
            ]
            with process(minimal_command, ready_url=minimal + "/health", env=child_env()):
                connector = aiohttp.TCPConnector(limit=0)
                async with aiohttp.ClientSession(connector=connector) as http:
                    for callers in COMPARE_CALLERS:
                        ours = proxied_targets(server, secret_key, orgs, callers)
                        theirs = proxied_targets(minimal, secret_key, orgs, callers)
                        await run_phase(http, ours, 300)  # warm-up
                        await run_phase(http, theirs, 300)
                        side_ours, side_theirs = Phase(), Phase()
                        for _ in range(ROUNDS):
                            side_ours.add(await run_phase(http, ours, args.compare_requests // ROUNDS))
                            side_theirs.add(await run_phase(http, theirs, args.compare_requests // ROUNDS))
                        results.append(Comparison(callers, side_ours, side_theirs))
    return results


def report_comparison(results: list[Comparison], args: argparse.Namespace) -> bool:
    """Print (c); True if every ratio meets the target and nothing failed."""
    print(
        f"(c) against a minimal Starlette + aiohttp forwarding proxy: no latency, "
        f"{args.compare_requests} GET {PATH}{QUERY} each way per caller count in {ROUNDS} interleaved rounds"
    )
    print(f"  {'':<16}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    met = True
    for result in results:
        print(row(f"minimal ({result.callers})", result.minimal))
        print(row(f"billbridge ({result.callers})", result.billbridge))
        print(
            f"  {result.callers} callers: billbridge / minimal throughput {result.ratio:.3f} "
            f"(target >= {COMPARE_TARGET})"
        )
        errors = sum(result.minimal.errors.values()) + sum(result.billbridge.errors.values())
        for sample in result.minimal.samples + result.billbridge.samples:
            print(f"  error seen: {sample}")
        met = met and result.ratio >= COMPARE_TARGET and errors == 0
    return met


async def main(args: argparse.Namespace) -> int:
    secret_key = "bench-" + secrets.token_hex(16)
    if args.compare_only:
        met = report_comparison(await compare(args, secret_key), args)
        print(f"at the end: {load_average()}")
        return 0 if met else 1
    with (
        tempfile.TemporaryDirectory() as data_dir,
        simulator(organizations=ORGANIZATIONS, records=100, latency_ms=0) as gateway,
    ):
        async with httpx.AsyncClient() as sim:
            world = (await sim.get(gateway + "/_sim/world")).json()
        orgs = choose_orgs(world)
        port = free_port()
        server = f"http://127.0.0.1:{port}"
        env = child_env(
            BILLBRIDGE_DATA_DIR=data_dir,
            BILLBRIDGE_SECRET_KEY=secret_key,
            BILLBRIDGE_BILL_SANDBOX_URL=gateway,
            BILLBRIDGE_LOG_LEVEL="WARNING",
        )
        command = billbridge("serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log")
        with process(command, ready_url=server + "/health", env=env) as served:
            await link_all(server, secret_key, orgs)
            await login_all(gateway, orgs)
            print(
                f"proxy overhead: simulator and billbridge serve (SQLite) on loopback, "
                f"{ORGANIZATIONS} linked organizations, aiohttp load generator; {load_average()}"
            )
            results = await measure(gateway, server, secret_key, orgs, args, server_pid=served.pid)
            met = report(results, args)
    comparison = await compare(args, secret_key)
    met = report_comparison(comparison, args) and met
    print("all targets " + ("met" if met else "MISSED"))
    print(f"at the end: {load_average()}")
    return 0 if met else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="requests per side in (a)")
    parser.add_argument("--stress-requests", type=int, default=12_000, help="proxied requests in (b)")
    parser.add_argument(
        "--compare-requests", type=int, default=5_000, help="requests per side and caller count in (c)"
    )
    parser.add_argument("--compare-only", action="store_true", help="run (c) only")
    parser.add_argument(
        "--serve-minimal-proxy",
        nargs=3,
        metavar=("PORT", "GATEWAY", "SESSIONS_FILE"),
        help="(internal) run the minimal proxy of (c) in this process",
    )
    parsed = parser.parse_args()
    if parsed.serve_minimal_proxy:
        port_text, gateway_root, sessions_path = parsed.serve_minimal_proxy
        serve_minimal_proxy(int(port_text), gateway_root, sessions_path)
        raise SystemExit(0)
    raise SystemExit(asyncio.run(main(parsed)))
