"""The page's safety in a real browser: a CSP nothing violates, no inline script, no token in the logs."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from browser_harness import SANDBOX, TOKEN_PREFIX, ConnectPage, Stack
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

_WATCH_CSP = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(e.violatedDirective));
"""


def test_the_page_runs_under_its_policy_without_violations(connect: ConnectPage, stack: Stack) -> None:
    connect.page.add_init_script(_WATCH_CSP)
    user = f"csp-{uuid.uuid4().hex[:8]}"
    token = stack.new_session(user, allowed_integrations=[SANDBOX])
    response = connect.page.goto(stack.link_url(token))
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "frame-ancestors *" in policy  # the default of BILLBRIDGE_CONNECT_FRAME_ANCESTORS
    assert response.headers["referrer-policy"] == "no-referrer"
    html = response.text()
    # Every executable script comes from a file; the one inline block is JSON data.
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag

    connect.fill(stack.credentials)
    connect.submit()
    expect(connect.success()).to_be_visible()
    assert connect.page.evaluate("window.cspViolations") == []


def test_no_connect_token_reaches_the_server_log(connect: ConnectPage, stack: Stack) -> None:
    user = f"log-{uuid.uuid4().hex[:8]}"
    token = stack.new_session(user, allowed_integrations=[SANDBOX])
    connect.open(token)
    connect.fill({**stack.credentials, "password": "wrong-password-4"})
    connect.submit()
    expect(connect.error_of("password")).not_to_be_empty()
    connect.fill({"password": stack.credentials["password"]})
    connect.submit()
    expect(connect.success()).to_be_visible()

    log = stack.billbridge.output()
    assert "GET /connect" in log, "the access log is expected to be on, so this test means something"
    assert token not in log
    assert not re.search(TOKEN_PREFIX + "[0-9a-f]{8}", log)
    for secret in (stack.credentials["password"], stack.credentials["dev_key"], "wrong-password-4"):
        assert secret not in log


def test_only_shipped_files_are_served(stack: Stack) -> None:
    ok = httpx.get(f"{stack.url}/connect/static/connect.js", timeout=10)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/javascript")
    again = httpx.get(f"{stack.url}/connect/static/connect.js", headers={"If-None-Match": ok.headers["etag"]})
    assert again.status_code == 304
    for name in ("missing.js", "..%2F__init__.py", "%2E%2E%2Fpages.py", "connect.html"):
        assert httpx.get(f"{stack.url}/connect/static/{name}", timeout=10).status_code == 404, name
