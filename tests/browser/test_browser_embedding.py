"""A company's page on another origin: Nango's openConnectUI embeds the page; auth() links directly."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from browser_harness import SANDBOX, Stack
from playwright.sync_api import Error, Page, expect

pytestmark = pytest.mark.browser


def _events(page: Page) -> list[dict[str, Any]]:
    return list(page.evaluate("window.connectEvents"))


def test_open_connect_ui_receives_connect_with_the_new_connection(
    page: Page, stack: Stack, host: str
) -> None:
    user = f"embed-{uuid.uuid4().hex[:8]}"
    token = stack.new_session(user)
    page.goto(f"{host}/embed.html?" + urlencode({"token": token, "billbridge": stack.url}))

    iframe = page.locator("iframe#connect-ui")
    expect(iframe).to_have_attribute(
        "src", f"{stack.url}/?apiURL={stack.url.replace(':', '%3A').replace('/', '%2F')}"
    )
    frame = page.frame_locator("iframe#connect-ui")
    # The token arrived by postMessage only: the page then offers both environments.
    frame.get_by_role("button", name="Sandbox").click()
    labels = {
        "username": "Username (email)",
        "password": "Password",
        "organization_id": "Organization ID",
        "dev_key": "Developer key",
    }
    for name, label in labels.items():
        frame.get_by_label(label, exact=True).fill(stack.credentials[name])
    frame.get_by_role("button", name="Link account").click()
    expect(frame.get_by_role("heading", name="Your BILL account is linked")).to_be_visible()

    page.wait_for_function("window.connectEvents.some((e) => e.type === 'connect')")
    [conn] = stack.connections(user)
    connect_events = [e for e in _events(page) if e["type"] == "connect"]
    assert connect_events == [
        {"type": "connect", "payload": {"connectionId": conn["connection_id"], "providerConfigKey": SANDBOX}}
    ]
    assert _events(page)[0] == {"type": "ready"}

    # Done tells the SDK to close: it removes the iframe.
    frame.get_by_role("button", name="Done").click()
    expect(iframe).to_have_count(0)
    page.wait_for_function("window.connectEvents.some((e) => e.type === 'close')")
    assert _events(page)[-1] == {"type": "close"}


def test_embedded_refusal_is_reported_as_an_error_event(page: Page, stack: Stack, host: str) -> None:
    token = stack.new_session(f"embed-err-{uuid.uuid4().hex[:8]}", allowed_integrations=[SANDBOX])
    page.goto(f"{host}/embed.html?" + urlencode({"token": token, "billbridge": stack.url}))
    frame = page.frame_locator("iframe#connect-ui")
    frame.get_by_label("Username (email)", exact=True).fill(stack.credentials["username"])
    frame.get_by_label("Password", exact=True).fill("wrong-password-2")
    frame.get_by_label("Organization ID", exact=True).fill(stack.credentials["organization_id"])
    frame.get_by_label("Developer key", exact=True).fill(stack.credentials["dev_key"])
    frame.get_by_role("button", name="Link account").click()

    page.wait_for_function("window.connectEvents.some((e) => e.type === 'error')")
    [error] = [e for e in _events(page) if e["type"] == "error"]
    assert error["payload"]["errorType"] == "connection_test_failed"
    assert "not accepted" in error["payload"]["errorMessage"]
    # The close button is there when embedded, and closes the iframe.
    frame.get_by_role("button", name="Close").click()
    expect(page.locator("iframe#connect-ui")).to_have_count(0)


def test_popup_tells_its_opener(page: Page, stack: Stack, host: str) -> None:
    user = f"popup-{uuid.uuid4().hex[:8]}"
    token = stack.new_session(user, allowed_integrations=[SANDBOX])
    page.goto(f"{host}/auth.html")
    page.evaluate(
        "window.received = []; window.addEventListener('message', (e) => window.received.push(e.data))"
    )
    with page.expect_popup() as popup_info:
        page.evaluate(
            "(url) => { window.popup = window.open(url, 'bill', 'width=500,height=700'); }",
            stack.link_url(token),
        )
    popup = popup_info.value
    for name, label in {
        "username": "Username (email)",
        "password": "Password",
        "organization_id": "Organization ID",
        "dev_key": "Developer key",
    }.items():
        popup.get_by_label(label, exact=True).fill(stack.credentials[name])
    popup.get_by_role("button", name="Link account").click()
    expect(popup.get_by_role("heading", name="Your BILL account is linked")).to_be_visible()

    page.wait_for_function("window.received.some((m) => m && m.type === 'connect')")
    [conn] = stack.connections(user)
    received = page.evaluate("window.received")
    assert {
        "type": "connect",
        "payload": {"connectionId": conn["connection_id"], "providerConfigKey": SANDBOX},
    } in received
    # Done closes the popup, which ends the click's own bookkeeping mid-way: expected.
    with popup.expect_event("close"), contextlib.suppress(Error):
        popup.get_by_role("button", name="Done").click()
    assert popup.is_closed()
    # The message crosses windows asynchronously: it may land just after the popup is gone.
    page.wait_for_function("window.received.some((m) => m && m.type === 'close')")
    assert page.evaluate("window.received")[-1] == {"type": "close"}


def test_frontend_auth_links_without_the_page(page: Page, stack: Stack, host: str) -> None:
    user = f"auth-{uuid.uuid4().hex[:8]}"
    token = stack.new_session(user, allowed_integrations=[SANDBOX])
    page.goto(f"{host}/auth.html")
    page.wait_for_function("typeof window.linkBill === 'function'")
    result = page.evaluate(
        "([host, token, key, creds]) => window.linkBill(host, token, key, creds)",
        [stack.url, token, SANDBOX, stack.credentials],
    )
    [conn] = stack.connections(user)
    assert result == {
        "ok": True,
        "result": {"connectionId": conn["connection_id"], "providerConfigKey": SANDBOX},
    }

    refused = page.evaluate(
        "([host, token, key, creds]) => window.linkBill(host, token, key, creds)",
        [stack.url, token, SANDBOX, {**stack.credentials, "password": "wrong-password-3"}],
    )
    assert refused["ok"] is False
    assert refused["type"] == "connection_test_failed"
    assert len(stack.connections(user)) == 1


def test_embedded_expired_token_reports_an_error_event(page: Page, stack: Stack, host: str) -> None:
    token = "nango_connect_session_" + "c" * 64  # well formed, never issued
    page.goto(f"{host}/embed.html?" + urlencode({"token": token, "billbridge": stack.url}))
    frame = page.frame_locator("iframe#connect-ui")

    expect(frame.get_by_role("heading", name="This link can no longer be used")).to_be_visible()
    page.wait_for_function("window.connectEvents.some((e) => e.type === 'error')")
    [error] = [e for e in _events(page) if e["type"] == "error"]
    assert error["payload"]["errorType"] == "unknown_connect_session_token"
