"""MFA: after the link, BILL's code makes the session trusted, and the remembered device keeps it so."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from browser_harness import SANDBOX, ConnectPage, Stack, screenshot
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _codes(stack: Stack) -> list[dict[str, Any]]:
    answer = httpx.get(stack.simulator.url + "/_sim/mfa/codes", timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return list(body["codes"] if isinstance(body, dict) else body)


def _latest_code(stack: Stack, seen: int) -> str:
    fresh = [c for c in _codes(stack)[seen:] if c["kind"] == "challenge"]
    assert fresh, "BILL sent no code"
    return str(fresh[-1]["code"])


def test_mfa_makes_the_session_trusted_and_remembers_the_device(connect: ConnectPage, stack: Stack) -> None:
    user = f"mfa-{uuid.uuid4().hex[:8]}"
    connect.open(stack.new_session(user, allowed_integrations=[SANDBOX], mfa_required=True))
    page = connect.page
    seen = len(_codes(stack))
    connect.fill(stack.credentials)
    connect.submit()

    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    code = page.get_by_label("Verification code")
    expect(code).to_be_focused()
    expect(page.get_by_label("Remember this device for 30 days")).to_be_checked()
    expect(page.locator("#announce")).to_have_text("BILL sent a code to your phone. Enter it to continue.")
    screenshot(page, "mfa-desktop")
    # Linked already (untrusted), but the opener is told only once MFA is done.
    [conn] = stack.connections(user)
    assert stack.connection(conn["connection_id"])["credentials"]["raw"].get("trusted") is False

    code.fill("12")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#mfa_code-error")).to_contain_text("6 digits")

    right = _latest_code(stack, seen)
    code.fill("999999" if right != "999999" else "888888")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#mfa_code-error")).to_contain_text("did not accept this code")
    expect(code).to_be_focused()

    seen = len(_codes(stack))
    page.get_by_role("button", name="Send a new code").click()
    expect(page.locator("#announce")).to_have_text("A new code was sent to your phone.")
    code.fill(_latest_code(stack, seen))
    page.get_by_role("button", name="Verify").click()

    expect(connect.success()).to_be_visible()
    expect(page.locator("#success-detail")).to_contain_text("with a verified sign-in")
    detail = stack.connection(conn["connection_id"])
    assert detail["credentials"]["raw"]["trusted"] is True
    # A new login (forced refresh) is trusted without a code: BILL knows the remembered device.
    refreshed = stack.connection(conn["connection_id"], force_refresh="true")
    assert refreshed["credentials"]["raw"]["trusted"] is True
    assert refreshed["credentials"]["session_id"] != detail["credentials"]["session_id"]


def test_mfa_endpoints_refuse_a_connection_the_session_did_not_link(stack: Stack) -> None:
    owner = f"mfa-owner-{uuid.uuid4().hex[:8]}"
    token = stack.new_session(owner, allowed_integrations=[SANDBOX])
    linked = httpx.post(
        f"{stack.url}/auth/bill/{SANDBOX}",
        params={"connect_session_token": token},
        json=stack.credentials,
        timeout=30,
    )
    assert linked.status_code == 200, linked.text
    other = stack.new_session(f"mfa-other-{uuid.uuid4().hex[:8]}", allowed_integrations=[SANDBOX])
    answer = httpx.post(
        f"{stack.url}/connect/mfa/challenge",
        headers={"Authorization": f"Bearer {other}"},
        json=linked.json(),
        timeout=30,
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "connection_not_linked_by_session"
