"""Every way a link can fail shows its message next to the field concerned and stores nothing."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import uuid

import httpx
import pytest
from browser_harness import SANDBOX, ConnectPage, Stack
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _open(connect: ConnectPage, stack: Stack) -> str:
    user = f"err-{uuid.uuid4().hex[:8]}"
    connect.open(stack.new_session(user, allowed_integrations=[SANDBOX]))
    return user


def _expire(stack: Stack, token: str) -> None:
    """End a session's 30 minutes now, as if the person had left the form open too long."""
    with sqlite3.connect(stack.data_dir / "billbridge.db") as db:
        db.execute(
            "UPDATE connect_sessions SET expires_at = '2000-01-01 00:00:00.000000' WHERE token_hash = ?",
            (hashlib.sha256(token.encode()).hexdigest(),),
        )


def _only_error_on(connect: ConnectPage, name: str) -> None:
    for other in ("username", "password", "organization_id", "dev_key"):
        if other == name:
            expect(connect.field(other)).to_have_attribute("aria-invalid", "true")
        else:
            expect(connect.error_of(other)).to_be_empty()
            expect(connect.field(other)).not_to_have_attribute("aria-invalid", "true")


def test_bad_email_is_caught_before_sending(connect: ConnectPage, stack: Stack) -> None:
    user = _open(connect, stack)
    connect.fill({**stack.credentials, "username": "not-an-email"})
    connect.submit()

    expect(connect.error_of("username")).to_have_text(re.compile("email address you sign in to BILL with"))
    expect(connect.field("username")).to_be_focused()
    _only_error_on(connect, "username")
    # The message is tied to the input, so a screen reader reads it with the field.
    described = connect.field("username").get_attribute("aria-describedby") or ""
    assert "username-error" in described.split()
    assert connect.link_requests == []
    assert stack.connections(user) == []

    connect.field("username").fill(stack.credentials["username"])
    expect(connect.error_of("username")).to_be_empty()


def test_organization_id_must_begin_with_008(connect: ConnectPage, stack: Stack) -> None:
    user = _open(connect, stack)
    connect.fill({**stack.credentials, "organization_id": "006" + stack.credentials["organization_id"][3:]})
    connect.submit()

    expect(connect.error_of("organization_id")).to_contain_text("begin with 008")
    expect(connect.field("organization_id")).to_be_focused()
    _only_error_on(connect, "organization_id")
    assert connect.link_requests == []
    assert stack.connections(user) == []


def test_wrong_password_is_shown_at_the_password(connect: ConnectPage, stack: Stack) -> None:
    user = _open(connect, stack)
    connect.fill({**stack.credentials, "password": "wrong-password-1"})
    connect.submit()

    expect(connect.error_of("password")).to_contain_text("not accepted by BILL's sandbox")
    _only_error_on(connect, "password")
    expect(connect.field("password")).to_be_focused()
    # Only the password is cleared; everything else typed is kept.
    expect(connect.field("password")).to_have_value("")
    for name in ("username", "organization_id", "dev_key"):
        expect(connect.field(name)).to_have_value(stack.credentials[name])
    expect(connect.page.get_by_role("button", name="Link account")).not_to_have_attribute(
        "aria-disabled", "true"
    )
    assert len(connect.link_requests) == 1
    assert stack.connections(user) == []


def test_wrong_developer_key_is_shown_at_the_key(connect: ConnectPage, stack: Stack) -> None:
    user = _open(connect, stack)
    connect.fill({**stack.credentials, "dev_key": "nope" + stack.credentials["dev_key"][4:]})
    connect.submit()

    expect(connect.error_of("dev_key")).to_contain_text("developer key is not valid for BILL's sandbox")
    _only_error_on(connect, "dev_key")
    expect(connect.field("dev_key")).to_be_focused()
    for name in ("username", "password", "organization_id"):
        expect(connect.field(name)).to_have_value(stack.credentials[name])
    assert stack.connections(user) == []


def test_sandbox_credentials_in_production_are_refused(connect: ConnectPage, stack: Stack) -> None:
    user = f"prod-{uuid.uuid4().hex[:8]}"
    connect.open(stack.new_session(user))
    connect.choose("production")
    connect.fill(stack.credentials)
    connect.submit()

    message = connect.page.locator(".error:not(:empty)")
    expect(message).to_have_count(1)
    expect(message).to_contain_text(re.compile("production"))
    assert stack.connections(user) == []


def test_an_expired_link_says_so_and_stores_nothing(connect: ConnectPage, stack: Stack) -> None:
    user = f"exp-{uuid.uuid4().hex[:8]}"
    token = stack.new_session(user, allowed_integrations=[SANDBOX])
    connect.open(token)
    connect.fill(stack.credentials)
    _expire(stack, token)
    connect.submit()

    fatal = connect.page.get_by_role("heading", name="This link can no longer be used")
    expect(fatal).to_be_visible()
    expect(connect.page.locator("#fatal-message")).to_contain_text("expired")
    expect(connect.page.locator("#step-credentials")).to_be_hidden()
    assert stack.connections(user) == []


def test_opening_an_expired_link_shows_the_expiry_page(connect: ConnectPage, stack: Stack) -> None:
    token = stack.new_session(f"old-{uuid.uuid4().hex[:8]}")
    _expire(stack, token)
    connect.open(token)
    expect(connect.page.get_by_role("heading", name="This link can no longer be used")).to_be_visible()
    expect(connect.page.locator("#step-credentials")).to_be_hidden()


def test_a_failing_bill_shows_billbridges_own_words_and_keeps_the_input(
    connect: ConnectPage, stack: Stack
) -> None:
    user = _open(connect, stack)
    faults = f"{stack.simulator.url}/_sim/faults"
    # More failed logins than the client's own retries: BILL stays down for this link.
    httpx.post(faults, json={"fail_logins": 20}).raise_for_status()
    try:
        connect.fill(stack.credentials)
        connect.submit()

        # The Connect UI holds no copy of BILL's codes: the message is the API's, word for word.
        expect(connect.page.locator("#form-error")).to_have_text(
            "BILL's sandbox could not be reached or did not answer properly. Nothing was saved; "
            "try again in a minute.",
            timeout=60_000,  # the client's own retries with backoff come first
        )
        expect(connect.field("password")).to_have_value(stack.credentials["password"])
        assert stack.connections(user) == []
    finally:
        httpx.post(faults, json={"fail_logins": 0}).raise_for_status()
