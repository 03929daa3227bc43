"""Linking in the browser: the environment choice, the form, success, reconnect, screenshots."""

from __future__ import annotations

import re
import uuid

import pytest
from browser_harness import SANDBOX, ConnectPage, Stack, screenshot
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.browser


def test_link_in_sandbox_stores_the_connection(connect: ConnectPage, stack: Stack) -> None:
    user = f"link-{uuid.uuid4().hex[:8]}"
    connect.open(stack.new_session(user))
    page = connect.page

    expect(page.get_by_role("heading", name="Which BILL do you want to link?")).to_be_visible()
    expect(page.get_by_text("sandbox sign-ins and developer keys do not work in production")).to_be_visible()
    screenshot(page, "environment-desktop")
    connect.choose("sandbox")
    expect(page.locator("#environment-name")).to_have_text("Sandbox")
    expect(connect.field("Username (email)")).to_be_focused()
    connect.fill(stack.credentials)
    connect.submit()

    expect(connect.success()).to_be_visible()
    expect(page.locator("#success-detail")).to_contain_text(stack.credentials["organization_id"])
    # Opened directly (no opener, no parent): nothing to go back to, so no Done button.
    expect(page.get_by_role("button", name="Done")).to_be_hidden()
    [conn] = stack.connections(user)
    assert conn["provider_config_key"] == SANDBOX
    assert len(connect.link_requests) == 1


def test_a_session_allowing_one_integration_skips_the_choice(connect: ConnectPage, stack: Stack) -> None:
    connect.open(stack.new_session(f"one-{uuid.uuid4().hex[:8]}", allowed_integrations=[SANDBOX]))
    page = connect.page
    expect(page.locator("#step-credentials")).to_be_visible()
    expect(page.locator("#step-environment")).to_be_hidden()
    expect(page.get_by_role("button", name="Change")).to_be_hidden()
    expect(page.locator("#environment-name")).to_have_text("Sandbox")


def test_password_can_be_shown_and_hidden(connect: ConnectPage, stack: Stack) -> None:
    connect.open(stack.new_session(f"eye-{uuid.uuid4().hex[:8]}", allowed_integrations=[SANDBOX]))
    password = connect.field("Password")
    password.fill("secret-value")
    toggle = connect.page.get_by_role("button", name="Show password")
    expect(password).to_have_attribute("type", "password")
    toggle.click()
    expect(password).to_have_attribute("type", "text")
    expect(connect.page.get_by_role("button", name="Hide password")).to_have_attribute("aria-pressed", "true")
    connect.page.get_by_role("button", name="Hide password").click()
    expect(password).to_have_attribute("type", "password")


def test_reconnect_prefills_and_updates_the_same_connection(connect: ConnectPage, stack: Stack) -> None:
    user = f"re-{uuid.uuid4().hex[:8]}"
    connect.open(stack.new_session(user, allowed_integrations=[SANDBOX]))
    connect.fill(stack.credentials)
    connect.submit()
    expect(connect.success()).to_be_visible()
    [first] = stack.connections(user)

    answer = stack.api.post(
        "/connect/sessions/reconnect",
        json={"connection_id": first["connection_id"], "integration_id": SANDBOX},
    )
    assert answer.status_code == 201, answer.text
    connect.open(answer.json()["data"]["token"])
    page = connect.page
    expect(page.locator("#lead")).to_contain_text("Sign in again")
    expect(connect.field("Username (email)")).to_have_value(stack.credentials["username"])
    expect(connect.field("Organization ID")).to_have_value(stack.credentials["organization_id"])
    expect(connect.field("Password")).to_have_value("")
    expect(connect.field("Developer key")).to_have_value("")
    assert stack.credentials["password"] not in page.content()
    connect.fill({"password": stack.credentials["password"], "dev_key": stack.credentials["dev_key"]})
    connect.submit()
    expect(connect.success()).to_be_visible()

    [after] = stack.connections(user)
    assert after["connection_id"] == first["connection_id"]
    detail = stack.connection(first["connection_id"])
    assert detail["updated_at"] != first.get("updated_at", first["created"])


@pytest.mark.parametrize(("width", "height", "label"), [(1280, 900, "desktop"), (375, 812, "phone")])
def test_screenshots_of_form_error_and_success(
    browser: Browser, stack: Stack, width: int, height: int, label: str
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(20_000)
    try:
        connect = ConnectPage(context.new_page(), stack)
        page = connect.page
        connect.open(stack.new_session(f"shot-{uuid.uuid4().hex[:8]}", allowed_integrations=[SANDBOX]))
        connect.fill({"username": stack.credentials["username"]})
        connect.field("username").blur()
        screenshot(page, f"form-{label}")
        # Nothing scrolls sideways at phone width: everything fits the viewport.
        assert page.evaluate("document.documentElement.scrollWidth") <= width

        connect.fill({**stack.credentials, "password": "not-the-password"})
        connect.submit()
        expect(connect.error_of("password")).to_contain_text(re.compile("not accepted|did not accept"))
        screenshot(page, f"error-{label}")

        connect.fill({"password": stack.credentials["password"]})
        connect.submit()
        expect(connect.success()).to_be_visible()
        screenshot(page, f"success-{label}")
    finally:
        context.close()
