"""Browser tests: the simulator and billbridge run as processes on loopback; Chromium drives the page."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser_harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NANGO_DIST,
    SECRET_KEY,
    ConnectPage,
    HostHandler,
    Server,
    Stack,
    start_server,
)
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from billbridge.cli.demo import demo_credentials
from support.processes import free_port


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A sandbox and a production simulator, and billbridge pointed at them, on loopback ports."""
    work = tmp_path_factory.mktemp("browser-stack")
    servers: list[Server] = []
    try:
        for name, environment in (("simulator", "sandbox"), ("production", "production")):
            command = ["simulator", "--records", "5", "--environment", environment]
            servers.append(
                start_server(name, command, port=free_port(), env={}, work=work, ready="/_sim/world")
            )
        sim, prod = servers
        port = free_port()
        (work / "data").mkdir()
        env = {
            "BILLBRIDGE_DATA_DIR": str(work / "data"),
            "BILLBRIDGE_SECRET_KEY": SECRET_KEY,
            "BILLBRIDGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "BILLBRIDGE_BILL_SANDBOX_URL": sim.url,
            "BILLBRIDGE_BILL_PRODUCTION_URL": prod.url,
        }
        bb = start_server("billbridge", ["serve"], port=port, env=env, work=work, ready="/health")
        servers.append(bb)
        credentials = demo_credentials(httpx.get(sim.url + "/_sim/world", timeout=10).json())
        headers = {"Authorization": f"Bearer {SECRET_KEY}"}
        with httpx.Client(base_url=bb.url, headers=headers, timeout=30) as api:
            yield Stack(sim, prod, bb, work / "data", credentials, api)
    finally:
        for server in reversed(servers):
            server.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: ./scripts/setup --test installs Debian's chromium")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh desktop-sized page; any uncaught JavaScript error fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def connect(page: Page, stack: Stack) -> ConnectPage:
    return ConnectPage(page, stack)


@pytest.fixture(scope="package")
def host() -> Iterator[str]:
    """The company's web server on another loopback port (embeds or calls billbridge)."""
    if not (NANGO_DIST / "index.js").exists():
        pytest.fail("@nangohq/frontend is missing: ./scripts/setup --test installs tests/e2e/node")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), HostHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
