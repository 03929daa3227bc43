"""Readable in light and dark mode: real colours computed by Chromium, checked for contrast (WCAG AA)."""

from __future__ import annotations

import re
import uuid
from typing import Literal

import pytest
from browser_harness import SANDBOX, ConnectPage, Stack, screenshot
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

_COLOURS = """(selector) => {
  const element = document.querySelector(selector);
  const style = getComputedStyle(element);
  let back = element;
  let background = getComputedStyle(back).backgroundColor;
  while (background === "rgba(0, 0, 0, 0)" && back.parentElement) {
    back = back.parentElement;
    background = getComputedStyle(back).backgroundColor;
  }
  return [style.color, background];
}"""


def _luminance(colour: str) -> float:
    red, green, blue = (int(v) / 255 for v in re.findall(r"\d+", colour)[:3])

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def _contrast(page: Page, selector: str) -> float:
    text, background = page.evaluate(_COLOURS, selector)
    light, dark = sorted((_luminance(text), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_colours_follow_the_system_and_stay_readable(
    browser: Browser, stack: Stack, scheme: Literal["light", "dark"]
) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 812}, color_scheme=scheme)
    context.set_default_timeout(20_000)
    try:
        connect = ConnectPage(context.new_page(), stack)
        connect.open(stack.new_session(f"look-{uuid.uuid4().hex[:8]}", allowed_integrations=[SANDBOX]))
        connect.fill({**stack.credentials, "username": "not-an-email"})
        connect.submit()
        expect(connect.error_of("username")).not_to_be_empty()
        page = connect.page

        background = _luminance(page.evaluate("getComputedStyle(document.body).backgroundColor"))
        assert (background < 0.05) if scheme == "dark" else (background > 0.8)
        for selector in (
            "h1",
            "label[for=username]",
            "#username-help",
            "#username-error",
            "#submit",
            "#username",
        ):
            assert _contrast(page, selector) >= 4.5, (scheme, selector)
        # Nothing is wider than a 375 px phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        screenshot(page, f"error-phone-{scheme}")
    finally:
        context.close()
