"""Real processes on loopback ports: free ports, child environments, start, wait until ready, stop."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

SRC = Path(__file__).resolve().parents[2] / "src"
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A loopback port nothing listens on right now: one to serve on, or one where nothing answers."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


def python_path() -> str:
    """``PYTHONPATH`` for a child process: this checkout's ``src`` first, then what is set already."""
    return os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))


def child_env(**extra: str) -> dict[str, str]:
    """This process's whole environment, ``src`` first on ``PYTHONPATH``, plus ``extra``."""
    return {**os.environ, "PYTHONPATH": python_path(), **extra}


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without any BILLBRIDGE_ setting (each test sets its own), plus ``extra``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("BILLBRIDGE_")}, **extra}


def stop(process: subprocess.Popen[Any], *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
    """Ask a process to stop with ``sig``, kill it after ``timeout`` seconds; returns its exit code."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    return int(process.returncode)


def _tail(log: Path | None) -> str:
    return f":\n{log.read_text(errors='replace')[-4000:]}" if log is not None else ""


def wait_http(
    url: str,
    *,
    process: subprocess.Popen[Any] | None = None,
    log: Path | None = None,
    timeout: float = 30.0,
) -> None:
    """Wait until ``url`` answers 200.

    Args:
        url: what to ``GET``.
        process: the process serving it: fail at once if it exits.
        log: its output file, quoted (the end of it) in the failure.
        timeout: seconds to wait at most.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process serving {url} exited with {process.returncode}{_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing answered 200 at {url} within {timeout} s{_tail(log)}")


@dataclass
class Running:
    """A started process, the file its output goes to and what its readiness line said."""

    process: subprocess.Popen[bytes]
    log: Path
    ready: re.Match[str]

    def text(self) -> str:
        """Everything the process printed so far."""
        return self.log.read_text(errors="replace")

    def stop(self, *, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
        """Ask politely (SIGINT, as Ctrl-C does), then insist; returns the exit code."""
        return stop(self.process, sig=sig, timeout=timeout)


def start(
    command: Sequence[str],
    *,
    log: Path,
    ready: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Running:
    """Start ``command`` in ``log``'s directory with its stdout and stderr going to ``log``.

    Args:
        command: the program and its arguments.
        log: the output file; its directory is the working directory.
        ready: a regular expression to wait for in the output (``Running.ready`` is its match).
        env: settings on top of :func:`clean_environ`.
        timeout: seconds to wait for ``ready`` at most; the process is killed when they pass.
    """
    with log.open("wb") as out:
        environ = clean_environ(**(env or {}))
        process = subprocess.Popen(
            list(command), stdout=out, stderr=subprocess.STDOUT, env=environ, cwd=log.parent
        )
    deadline = time.monotonic() + timeout
    pattern = re.compile(ready)
    while time.monotonic() < deadline:
        match = pattern.search(log.read_text(errors="replace"))
        if match:
            return Running(process=process, log=log, ready=match)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait(5)
    raise AssertionError(f"{list(command)[:4]} did not become ready{_tail(log)}")


@contextlib.contextmanager
def serve_in_thread(app: Any, *, timeout: float = 30.0, **options: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a daemon thread on a free loopback port; yields its root URL.

    ``options`` go to ``uvicorn.Config`` (the defaults: warnings only, no lifespan).
    """
    config = uvicorn.Config(
        app, **{"host": LOOPBACK, "port": 0, "log_level": "warning", "lifespan": "off", **options}
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise AssertionError("the server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
