"""While BILL is asked: a spinner, a button that cannot submit twice, and fields kept as typed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from browser_harness import SANDBOX, ConnectPage, Stack
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def slow_bill(stack: Stack) -> Iterator[None]:
    """BILL answers after 1.5 s, long enough to press the button again while it thinks."""
    faults = stack.simulator.url + "/_sim/faults"
    assert httpx.post(faults, json={"latency_ms": 1500}, timeout=10).status_code == 200
    yield
    assert httpx.post(faults, json={"latency_ms": 0}, timeout=10).status_code == 200


@pytest.mark.usefixtures("slow_bill")
def test_the_button_cannot_submit_twice(connect: ConnectPage, stack: Stack) -> None:
    user = f"busy-{uuid.uuid4().hex[:8]}"
    connect.open(stack.new_session(user, allowed_integrations=[SANDBOX]))
    connect.fill(stack.credentials)
    button = connect.page.get_by_role("button", name="Link account")
    button.click()

    busy = connect.page.get_by_role("button", name="Checking with BILL…")
    expect(busy).to_have_attribute("aria-disabled", "true")
    expect(connect.page.locator("#step-credentials")).to_have_attribute("aria-busy", "true")
    expect(busy.locator(".spinner")).to_be_visible()
    expect(connect.field("username")).to_have_js_property("readOnly", True)
    busy.click(force=True)  # a person clicking again; Playwright itself sees it as disabled
    connect.field("dev_key").press("Enter")

    expect(connect.success()).to_be_visible()
    assert len(connect.link_requests) == 1
    assert len(stack.connections(user)) == 1
