"""Processes, pages and paths shared by the browser tests (the fixtures live in conftest.py)."""

from __future__ import annotations

import http.server
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, Request

from support.processes import LOOPBACK, Running, start, wait_http

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NANGO_DIST = ROOT / "tests" / "e2e" / "node" / "node_modules" / "@nangohq" / "frontend" / "dist"
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
HOST_PAGES = Path(__file__).parent / "host"
SECRET_KEY = "browser-tests-secret-key-0123456789abcdef"
SANDBOX = "bill-sandbox"
TOKEN_PREFIX = "nango_connect_session_"


@dataclass
class Server:
    """One server process on a loopback port."""

    url: str
    running: Running

    def output(self) -> str:
        return self.running.text()

    def stop(self) -> None:
        self.running.stop(sig=signal.SIGTERM, timeout=10)


def start_server(
    name: str, command: list[str], *, port: int, env: Mapping[str, str], work: Path, ready: str
) -> Server:
    """Run ``billbridge <command> --host 127.0.0.1 --port <port>`` until ``ready`` (a path) answers.

    ``env`` holds the BILLBRIDGE_ settings; the output goes to ``<work>/<name>.log``.
    """
    args = [command[0], "--host", LOOPBACK, "--port", str(port), *command[1:]]
    launcher = [sys.executable, str(Path(__file__).parent / "serve.py"), *args]
    running = start(launcher, log=work / f"{name}.log", ready="listening on", env=env)
    server = Server(f"http://{LOOPBACK}:{port}", running)
    try:
        wait_http(server.url + ready, process=running.process, log=running.log, timeout=60)
    except AssertionError:
        server.stop()
        raise
    return server


@dataclass
class Stack:
    """The running servers, the simulator's demo credentials and an API client with the secret key."""

    simulator: Server
    production: Server
    billbridge: Server
    data_dir: Path
    credentials: dict[str, str]
    api: httpx.Client

    @property
    def url(self) -> str:
        return self.billbridge.url

    def new_session(self, end_user_id: str, **body: Any) -> str:
        """A connect session token for ``end_user_id``; extra fields go into the request body."""
        answer = self.api.post("/connect/sessions", json={"end_user": {"id": end_user_id}, **body})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["data"]["token"])

    def link_url(self, token: str) -> str:
        return f"{self.url}/connect?session_token={token}"

    def connections(self, end_user_id: str) -> list[dict[str, Any]]:
        """The connections of one end user, as the API lists them."""
        answer = self.api.get("/connections", params={"endUserId": end_user_id})
        assert answer.status_code == 200, answer.text
        return list(answer.json()["connections"])

    def connection(self, connection_id: str, key: str = SANDBOX, **params: str) -> dict[str, Any]:
        answer = self.api.get(f"/connections/{connection_id}", params={"provider_config_key": key, **params})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


class HostHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the company's test pages and, under /nango/, @nangohq/frontend's browser bundle."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0]
        if clean.startswith("/nango/"):
            return str(NANGO_DIST / clean.removeprefix("/nango/"))
        return str(HOST_PAGES / clean.lstrip("/"))


def screenshot(page: Page, name: str) -> None:
    """Save a full-page PNG under tests/artifacts/screenshots/ (the README's images come from there)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


LABELS = {
    "username": "Username (email)",
    "password": "Password",
    "organization_id": "Organization ID",
    "dev_key": "Developer key",
}


class ConnectPage:
    """The Connect UI as a person sees it, found by labels and roles as assistive technology does."""

    def __init__(self, page: Page, stack: Stack) -> None:
        self.page = page
        self.stack = stack
        self.link_requests: list[str] = []
        page.on("request", self._count)

    def _count(self, request: Request) -> None:
        if "/auth/bill/" in request.url:
            self.link_requests.append(request.url)

    def open(self, token: str) -> None:
        self.page.goto(self.stack.link_url(token))

    def choose(self, environment: str) -> None:
        self.page.get_by_role("button", name=environment.capitalize()).click()

    def field(self, name: str) -> Locator:
        return self.page.get_by_label(LABELS.get(name, name), exact=True)

    def fill(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self.field(name).fill(value)

    def submit(self) -> None:
        self.page.get_by_role("button", name="Link account").click()

    def error_of(self, name: str) -> Locator:
        return self.page.locator(f"#{name}-error")

    def success(self) -> Locator:
        return self.page.get_by_role("heading", name="Your BILL account is linked")
