"""The whole flow by keyboard alone: choose, type, fix an error, open the optional field, submit."""

from __future__ import annotations

import uuid

import pytest
from browser_harness import ConnectPage, Stack
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _focused(connect: ConnectPage) -> str:
    return str(connect.page.evaluate("document.activeElement && document.activeElement.id"))


def _tab_to(connect: ConnectPage, element_id: str, *, most: int = 12) -> None:
    for _ in range(most):
        connect.page.keyboard.press("Tab")
        if _focused(connect) == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}; stopped at #{_focused(connect)}")


def test_keyboard_only_link(connect: ConnectPage, stack: Stack) -> None:
    user = f"kbd-{uuid.uuid4().hex[:8]}"
    connect.open(stack.new_session(user))
    page = connect.page
    keys = page.keyboard

    keys.press("Tab")
    expect(page.get_by_role("button", name="Production")).to_be_focused()
    keys.press("Tab")
    expect(page.get_by_role("button", name="Sandbox")).to_be_focused()
    keys.press("Enter")
    assert _focused(connect) == "username"

    keys.type(stack.credentials["username"])
    keys.press("Tab")
    assert _focused(connect) == "password"
    keys.type("x")  # a first, wrong password: the page must bring focus back here
    _tab_to(connect, "organization_id")
    keys.type(stack.credentials["organization_id"])
    keys.press("Tab")
    assert _focused(connect) == "dev_key"
    keys.type(stack.credentials["dev_key"])
    keys.press("Enter")  # Enter in a field submits the form

    expect(connect.error_of("password")).not_to_be_empty()
    assert _focused(connect) == "password"
    keys.type(stack.credentials["password"])

    # The optional token opens with the keyboard too, then the button is next.
    _tab_to(connect, "api-token-summary")
    keys.press("Enter")
    expect(page.get_by_label("Spend & Expense API token", exact=True)).to_be_visible()
    _tab_to(connect, "api_token")
    _tab_to(connect, "submit")
    keys.press("Enter")

    expect(connect.success()).to_be_visible()
    assert _focused(connect) == "step-success"
    assert len(stack.connections(user)) == 1
