"""What billbridge's proxy adds to BILL calls: throughput ratio and added latency, and raw capacity.

    .venv/bin/python bench/proxy_overhead.py [--baseline TREE] [--requests 10000]
        [--stress-requests 12000] [--compare-requests 5000] [--compare-only]

Starts ``billbridge simulator`` and ``billbridge serve`` (SQLite, temporary data directory, no
default syncs) as processes on loopback ports, links the organizations through the HTTP API, then
measures with an aiohttp load generator:

(a) BILL-like: the simulator answers after 50 ms; 20 organizations, each kept at BILL's 3 requests
    in flight; ``GET /v3/vendors?max=20`` sent directly to the simulator and through
    ``/proxy/v3/vendors?max=20``: throughput ratio (target >= 0.95), added p50 (target < 2 ms)
    and p99 (target < 10 ms) latency; the same through the minimal proxy of (c), the floor that
    any Python forwarding proxy on this server stack and machine pays.
(b) stress: no injected latency, 64 callers through one billbridge process: proxied requests/s
    (target >= 3,000), with the simulator's own rate (60 callers, 3 per organization) for scale.
(c) against a minimal proxy (``minimal_proxy.py``: Starlette + aiohttp on the same server stack,
    no checks, no limits, sessions handed to it at start) and billbridge, each with a fresh
    simulator, 3 and 64 callers, no latency, in interleaved rounds: billbridge's throughput as a
    share of the minimal proxy's (target >= 0.85).

``--baseline TREE`` also runs the ``billbridge serve`` of another checkout (its ``src`` on
``PYTHONPATH``, this interpreter), e.g. the project before a change::

    git worktree add --detach ../billbridge-before 1897ad5
    .venv/bin/python bench/proxy_overhead.py --baseline ../billbridge-before

Each side ("before": the baseline, "after": this tree) gets its own simulator (this tree's), and
every phase alternates rounds between the sides, so load from elsewhere on the machine hits both
alike; the targets are judged on "after" only.

BILL allows 20,000 requests per developer key and hour, and the simulator and billbridge both
count them, so the default request numbers keep every developer key below that (the simulator's
clock moves an hour between (a) and (b)).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from keeper_support import (
    SRC,
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
MINIMAL_PROXY = Path(__file__).resolve().with_name("minimal_proxy.py")
PATH = "/v3/vendors"
QUERY = "?max=20"
Target = tuple[str, dict[str, str]]


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
    """The first ``count`` organizations, each on its most specific developer key.

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


@dataclass
class Side:
    """One billbridge under test ("after": this tree, "before": the baseline) and its simulator."""

    label: str
    src: Path
    secret_key: str
    gateway: str = ""
    server: str = ""
    server_pid: int = 0
    minimal: str = ""  # (c): the minimal proxy in front of the same simulator
    orgs: list[Org] = field(default_factory=list)

    def direct(self, per_org: int) -> list[Target]:
        url = f"{self.gateway}/connect{PATH}{QUERY}"
        auth = [{"devKey": o.dev_key, "sessionId": o.session_id} for o in self.orgs]
        return [(url, headers) for headers in auth for _ in range(per_org)]

    def proxied(self, callers: int, *, root: str | None = None) -> list[Target]:
        # The minimal proxy (c) reads the same headers, so both get identical requests.
        url = f"{root or self.server}/proxy{PATH}{QUERY}"
        return [
            (
                url,
                {
                    "Authorization": f"Bearer {self.secret_key}",
                    "Connection-Id": self.orgs[i % len(self.orgs)].connection_id,
                    "Provider-Config-Key": "bill-sandbox",
                },
            )
            for i in range(callers)
        ]


async def open_side(stack: ExitStack, side: Side, organizations: int, *, minimal: bool = False) -> Side:
    """Start the side's simulator and server (and minimal proxy), link and log in every organization."""
    side.gateway = stack.enter_context(simulator(organizations=organizations, records=100, latency_ms=0))
    async with httpx.AsyncClient() as sim:
        world = (await sim.get(side.gateway + "/_sim/world")).json()
    side.orgs = choose_orgs(world, organizations)
    data_dir = stack.enter_context(tempfile.TemporaryDirectory())
    port = free_port()
    side.server = f"http://127.0.0.1:{port}"
    env = child_env(
        BILLBRIDGE_DATA_DIR=data_dir,
        BILLBRIDGE_SECRET_KEY=side.secret_key,
        BILLBRIDGE_BILL_SANDBOX_URL=side.gateway,
        BILLBRIDGE_LOG_LEVEL="WARNING",
        # New connections start no syncs: they would compete with the measured calls for BILL's
        # 3 slots per organization (the baseline predates syncs and ignores the setting).
        BILLBRIDGE_SYNC_DEFAULTS="none",
    )
    env["PYTHONPATH"] = str(side.src)
    command = billbridge("serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log")
    side.server_pid = stack.enter_context(process(command, ready_url=side.server + "/health", env=env)).pid
    await link_all(side.server, side.secret_key, side.orgs)
    await login_all(side.gateway, side.orgs)
    if minimal:
        minimal_port = free_port()
        side.minimal = f"http://127.0.0.1:{minimal_port}"
        sessions_file = Path(data_dir) / "minimal-sessions.json"
        sessions_file.write_text(json.dumps({o.connection_id: [o.dev_key, o.session_id] for o in side.orgs}))
        minimal_command = [
            sys.executable,
            str(MINIMAL_PROXY),
            str(minimal_port),
            side.gateway,
            str(sessions_file),
        ]
        stack.enter_context(process(minimal_command, ready_url=side.minimal + "/health", env=child_env()))
    return side


def in_turns(sides: list[Side], turn: int) -> list[Side]:
    """The sides in the order of this round: alternating, so neither always goes first."""
    return sides if turn % 2 == 0 else sides[::-1]


@dataclass
class Results:
    """Every phase of (a) and (b) for one side."""

    direct: Phase = field(default_factory=Phase)
    proxied: Phase = field(default_factory=Phase)
    stress: Phase = field(default_factory=Phase)
    stress_direct: Phase = field(default_factory=Phase)
    minimal: Phase = field(default_factory=Phase)  # (a) through the minimal proxy
    server_cpu: float | None = 0.0  # CPU seconds the billbridge process spent on the stress phase
    round_ratios: list[float] = field(default_factory=list)  # proxied / direct of each round of (a)

    @property
    def ratio(self) -> float:
        return self.proxied.rate / self.direct.rate

    @property
    def added_p50(self) -> float:
        return self.proxied.ms(0.5) - self.direct.ms(0.5)

    @property
    def added_p99(self) -> float:
        return self.proxied.ms(0.99) - self.direct.ms(0.99)

    @property
    def minimal_added_p50(self) -> float:
        return self.minimal.ms(0.5) - self.direct.ms(0.5)

    @property
    def minimal_added_p99(self) -> float:
        return self.minimal.ms(0.99) - self.direct.ms(0.99)

    @property
    def cpu_per_request_us(self) -> float | None:
        if self.server_cpu is None:
            return None
        return self.server_cpu / max(1, len(self.stress.latencies)) * 1e6


async def set_latency(sides: list[Side], latency_ms: int) -> None:
    async with httpx.AsyncClient() as sim:
        for side in sides:
            await sim.post(side.gateway + "/_sim/faults", json={"latency_ms": latency_ms})


async def next_hour(http: aiohttp.ClientSession, side: Side) -> None:
    """Move the side's simulator an hour on, so that (b) starts with BILL's hourly budgets whole,
    and open new sessions for the direct calls (the old ones expired on the way)."""
    async with http.post(f"{side.gateway}/_sim/clock/advance", json={"seconds": 3600}) as answer:
        answer.raise_for_status()
    await login_all(side.gateway, side.orgs)


async def measure(
    http: aiohttp.ClientSession, sides: list[Side], args: argparse.Namespace
) -> dict[str, Results]:
    """(a) and (b) for every side, in alternating rounds."""
    results = {side.label: Results() for side in sides}
    await set_latency(sides, LATENCY_MS)
    for side in sides:
        await run_phase(http, side.direct(IN_FLIGHT), 300)  # warm-up: connections, caches
        await run_phase(http, side.proxied(ORGANIZATIONS * IN_FLIGHT), 300)
        await run_phase(http, side.proxied(ORGANIZATIONS * IN_FLIGHT, root=side.minimal), 300)
    each = args.requests // ROUNDS
    for turn in range(ROUNDS):
        for side in in_turns(sides, turn):
            result = results[side.label]
            direct = await run_phase(http, side.direct(IN_FLIGHT), each)
            proxied = await run_phase(http, side.proxied(ORGANIZATIONS * IN_FLIGHT), each)
            minimal = await run_phase(http, side.proxied(ORGANIZATIONS * IN_FLIGHT, root=side.minimal), each)
            result.round_ratios.append(proxied.rate / direct.rate)
            result.direct.add(direct)
            result.proxied.add(proxied)
            result.minimal.add(minimal)

    await set_latency(sides, 0)
    for side in sides:
        await next_hour(http, side)
        await run_phase(http, side.proxied(STRESS_CALLERS), 300)  # warm-up: billbridge logs in again
        results[side.label].stress_direct = await run_phase(
            http, side.direct(IN_FLIGHT), args.stress_requests // 4
        )
    for turn in range(ROUNDS):
        for side in in_turns(sides, turn):
            result = results[side.label]
            cpu_before = cpu_seconds(side.server_pid)
            result.stress.add(
                await run_phase(http, side.proxied(STRESS_CALLERS), args.stress_requests // ROUNDS)
            )
            cpu_after = cpu_seconds(side.server_pid)
            if cpu_before is None or cpu_after is None or result.server_cpu is None:
                result.server_cpu = None
            else:
                result.server_cpu += cpu_after - cpu_before
    return results


def row(name: str, phase: Phase) -> str:
    errors = sum(phase.errors.values())
    return f"  {name:<20}{phase.rate:>9.0f}{phase.ms(0.5):>9.2f}{phase.ms(0.99):>9.2f}{errors:>8}"


HEADER = f"  {'':<20}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"


def report(results: dict[str, Results], args: argparse.Namespace) -> bool:
    """Print (a) and (b); True if "after" meets every target and no side saw an error."""
    print(
        f"(a) BILL-like: {LATENCY_MS} ms latency, {ORGANIZATIONS} orgs x {IN_FLIGHT} in flight, "
        f"{args.requests} GET {PATH}{QUERY} each way and side in {ROUNDS} interleaved rounds"
    )
    print(HEADER)
    for label, result in results.items():
        print(row(f"{label}: direct", result.direct))
        print(row(f"{label}: via proxy", result.proxied))
        print(row(f"{label}: via minimal", result.minimal))
    for label, result in results.items():
        print(
            f"  {label}: throughput ratio {result.ratio:.3f} (target >= 0.95), median of the rounds' "
            f"{median(result.round_ratios):.3f}; added p50 {result.added_p50:+.2f} ms (target < 2), "
            f"p99 {result.added_p99:+.2f} ms (target < 10); the minimal proxy adds "
            f"{result.minimal_added_p50:+.2f} / {result.minimal_added_p99:+.2f} ms"
        )
    print(
        f"(b) stress: no latency, {STRESS_CALLERS} callers through one billbridge process, "
        f"{args.stress_requests} requests per side in {ROUNDS} interleaved rounds"
    )
    print(HEADER)
    for label, result in results.items():
        print(row(f"{label}: via proxy", result.stress))
        print(row(f"{label}: direct (60)", result.stress_direct))
    for label, result in results.items():
        cpu = result.cpu_per_request_us
        cpu_text = "" if cpu is None else f"; billbridge CPU per proxied request {cpu:.0f} us"
        print(f"  {label}: proxied {result.stress.rate:.0f} req/s (target >= 3000){cpu_text}")
    errors = 0
    for label, result in results.items():
        for phase in (result.direct, result.proxied, result.minimal, result.stress, result.stress_direct):
            errors += sum(phase.errors.values())
            for sample in phase.samples:
                print(f"  {label}: error seen: {sample}")
    after = results["after"]
    met = (
        after.ratio >= 0.95
        and after.added_p50 < 2
        and after.added_p99 < 10
        and after.stress.rate >= 3000
        and errors == 0
    )
    print("targets of (a) and (b) " + ("met" if met else "MISSED"))
    return met


@dataclass
class Comparison:
    """(c) for one side and caller count: billbridge and the minimal proxy under the same callers."""

    callers: int
    billbridge: Phase = field(default_factory=Phase)
    minimal: Phase = field(default_factory=Phase)
    round_ratios: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.billbridge.rate / self.minimal.rate if self.minimal.rate else 0.0


async def compare(sides: list[Side], args: argparse.Namespace) -> dict[str, list[Comparison]]:
    """(c) for every side, each on a fresh simulator and billbridge (no budget spent before)."""
    results: dict[str, list[Comparison]] = {side.label: [] for side in sides}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        for callers in COMPARE_CALLERS:
            for side in sides:
                await run_phase(http, side.proxied(callers), 300)  # warm-up
                await run_phase(http, side.proxied(callers, root=side.minimal), 300)
            by_side = {side.label: Comparison(callers) for side in sides}
            for turn in range(ROUNDS):
                for side in in_turns(sides, turn):
                    each = args.compare_requests // ROUNDS
                    theirs = await run_phase(http, side.proxied(callers, root=side.minimal), each)
                    ours = await run_phase(http, side.proxied(callers), each)
                    comparison = by_side[side.label]
                    comparison.minimal.add(theirs)
                    comparison.billbridge.add(ours)
                    comparison.round_ratios.append(ours.rate / theirs.rate if theirs.rate else 0.0)
            for label, comparison in by_side.items():
                results[label].append(comparison)
    return results


def report_comparison(results: dict[str, list[Comparison]], args: argparse.Namespace) -> bool:
    """Print (c); True if every ratio of "after" meets the target and nothing failed."""
    print(
        f"(c) against a minimal Starlette + aiohttp forwarding proxy: no latency, "
        f"{args.compare_requests} GET {PATH}{QUERY} each way, side and caller count in {ROUNDS} "
        "interleaved rounds"
    )
    print(HEADER)
    met = True
    for label, comparisons in results.items():
        for result in comparisons:
            print(row(f"{label}: minimal ({result.callers})", result.minimal))
            print(row(f"{label}: billbridge ({result.callers})", result.billbridge))
    for label, comparisons in results.items():
        for result in comparisons:
            print(
                f"  {label}: {result.callers} callers: billbridge / minimal throughput {result.ratio:.3f}, "
                f"median of the rounds' {median(result.round_ratios):.3f} (target >= {COMPARE_TARGET})"
            )
            errors = sum(result.minimal.errors.values()) + sum(result.billbridge.errors.values())
            for sample in result.minimal.samples + result.billbridge.samples:
                print(f"  {label}: error seen: {sample}")
            met = met and errors == 0 and (label != "after" or result.ratio >= COMPARE_TARGET)
    print("targets of (c) " + ("met" if met else "MISSED"))
    return met


def summary(results: dict[str, Results] | None, comparison: dict[str, list[Comparison]]) -> None:
    """One table of the figures that decide "no regression": before and after side by side."""
    if "before" not in comparison:
        return
    rows: list[tuple[str, str, str]] = []
    if results is not None:
        before, after = results["before"], results["after"]
        rows += [
            ("(a) throughput ratio", f"{before.ratio:.3f}", f"{after.ratio:.3f}"),
            (
                "(a) median of the rounds' ratios",
                f"{median(before.round_ratios):.3f}",
                f"{median(after.round_ratios):.3f}",
            ),
            ("(a) added p50 ms", f"{before.added_p50:+.2f}", f"{after.added_p50:+.2f}"),
            ("(a) added p99 ms", f"{before.added_p99:+.2f}", f"{after.added_p99:+.2f}"),
            (
                "(a) minimal proxy: added p99 ms",
                f"{before.minimal_added_p99:+.2f}",
                f"{after.minimal_added_p99:+.2f}",
            ),
            ("(b) proxied req/s", f"{before.stress.rate:.0f}", f"{after.stress.rate:.0f}"),
            ("(b) p99 ms", f"{before.stress.ms(0.99):.2f}", f"{after.stress.ms(0.99):.2f}"),
        ]
        cpu_before, cpu_after = before.cpu_per_request_us, after.cpu_per_request_us
        if cpu_before is not None and cpu_after is not None:
            rows.append(("(b) server CPU us/request", f"{cpu_before:.0f}", f"{cpu_after:.0f}"))
    for before_c, after_c in zip(comparison["before"], comparison["after"], strict=True):
        rows.append(
            (
                f"(c) {after_c.callers} callers: ratio to minimal",
                f"{before_c.ratio:.3f}",
                f"{after_c.ratio:.3f}",
            )
        )
    print("before / after, same run:")
    print(f"  {'figure':<36}{'before':>10}{'after':>10}")
    for name, before_text, after_text in rows:
        print(f"  {name:<36}{before_text:>10}{after_text:>10}")


async def main(args: argparse.Namespace) -> int:
    secret_key = "bench-" + secrets.token_hex(16)
    trees = [("after", SRC)]
    if args.baseline is not None:
        trees.insert(0, ("before", args.baseline.resolve() / "src"))
    print(
        f"proxy overhead: simulator and billbridge serve (SQLite) on loopback, aiohttp load "
        f"generator; sides: {', '.join(label for label, _ in trees)}; {load_average()}"
    )
    results = None
    met = True
    if not args.compare_only:
        with ExitStack() as stack:
            sides = [
                await open_side(stack, Side(label, src, secret_key), ORGANIZATIONS, minimal=True)
                for label, src in trees
            ]
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as http:
                results = await measure(http, sides, args)
            met = report(results, args)
        print(f"  {load_average()}")
    with ExitStack() as stack:
        sides = [
            await open_side(stack, Side(label, src, secret_key), COMPARE_ORGANIZATIONS, minimal=True)
            for label, src in trees
        ]
        comparison = await compare(sides, args)
    met = report_comparison(comparison, args) and met
    summary(results, comparison)
    print("all targets " + ("met" if met else "MISSED"))
    print(f"at the end: {load_average()}")
    return 0 if met else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--baseline", type=Path, help="a checkout of billbridge to measure too, as 'before' (see above)"
    )
    parser.add_argument("--requests", type=int, default=10_000, help="requests per side in (a)")
    parser.add_argument("--stress-requests", type=int, default=12_000, help="proxied requests in (b)")
    parser.add_argument(
        "--compare-requests", type=int, default=5_000, help="requests per side and caller count in (c)"
    )
    parser.add_argument("--compare-only", action="store_true", help="run (c) only")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
