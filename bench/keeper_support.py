"""Helpers of the keeper and proxy benchmarks: processes on loopback ports, timing summaries."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp
import httpx

SRC = Path(__file__).resolve().parents[1] / "src"


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def billbridge(*args: str) -> list[str]:
    """The command line of ``billbridge ARGS`` run by this interpreter."""
    return [sys.executable, "-c", "from billbridge.cli import main; main()", *args]


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@contextmanager
def process(
    command: Sequence[str], *, ready_url: str, env: dict[str, str] | None = None, log: IO[bytes] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` until the block ends, once ``ready_url`` answers 2xx."""
    proc = subprocess.Popen(
        list(command),
        env=env or child_env(),
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{command[3:]} exited with status {proc.returncode}")
            try:
                if httpx.get(ready_url, timeout=1.0).is_success:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing answered at {ready_url} within 60 s")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def simulator(
    *, organizations: int = 3, records: int = 50, latency_ms: int = 0, dev_keys: int = 3
) -> Iterator[str]:
    """``billbridge simulator`` on a loopback port; yields its gateway root.

    ``dev_keys``: ``organizations + 3`` gives every organization a developer key of its own.
    """
    port = free_port()
    command = billbridge(
        "simulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--organizations",
        str(organizations),
        "--records",
        str(records),
        "--latency-ms",
        str(latency_ms),
        "--dev-keys",
        str(dev_keys),
    )
    root = f"http://127.0.0.1:{port}"
    with process(command, ready_url=root + "/_sim/stats"):
        yield root


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def load_average() -> str:
    """The machine's 1/5/15-minute load averages: context for every figure measured here."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (Linux ``/proc``; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    """What one measured phase saw."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, other: Phase) -> None:
        """Fold another round of the same kind into this one."""
        self.latencies += other.latencies
        for outcome, count in other.errors.items():
            self.errors[outcome] = self.errors.get(outcome, 0) + count
        self.samples += other.samples[: 3 - len(self.samples)]
        self.seconds += other.seconds

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def ms(self, fraction: float) -> float:
        return percentile(self.latencies, fraction) * 1000


async def run_phase(
    http: aiohttp.ClientSession, targets: list[tuple[str, dict[str, str]]], total: int
) -> Phase:
    """``total`` requests spread over one worker per target (a URL and its headers)."""
    phase = Phase()
    remaining = total

    async def worker(url: str, headers: dict[str, str]) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            try:
                async with http.get(url, headers=headers) as response:
                    body = await response.read()
                    outcome = str(response.status)
            except aiohttp.ClientError as exc:
                body, outcome = str(exc).encode(), type(exc).__name__
            if outcome == "200":
                phase.latencies.append(time.perf_counter() - started)
            else:
                phase.errors[outcome] = phase.errors.get(outcome, 0) + 1
                if len(phase.samples) < 3:
                    phase.samples.append(f"{outcome}: {body[:160]!r}")

    # The load generator's own collector pauses would show up as latency on whichever side ran.
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker(url, headers) for url, headers in targets))
        phase.seconds = time.perf_counter() - started
    finally:
        gc.enable()
    return phase
