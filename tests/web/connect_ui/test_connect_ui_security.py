"""The Connect UI's response headers: frame-ancestors from settings, never an injected directive."""

from __future__ import annotations

import pytest

from billbridge.web.connect_ui.security import frame_ancestors, page_headers


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("*", "*"),
        ("https://app.example.com", "https://app.example.com"),
        (
            "'self' https://app.example.com https://*.example.org",
            "'self' https://app.example.com https://*.example.org",
        ),
        ("https://a.example.com,https://b.example.com", "https://a.example.com https://b.example.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("", "'none'"),
        ("https://a.example.com; script-src *", "'none'"),
        ("https://a.example.com not-a-source", "https://a.example.com"),
        ("'unsafe-inline'", "'none'"),
        ("https://a.example.com\r\nX-Evil: 1", "'none'"),
    ],
)
def test_frame_ancestors_keeps_only_sources(configured: str, expected: str) -> None:
    assert frame_ancestors(configured) == expected


def test_page_policy_allows_no_inline_script_and_keeps_the_opener() -> None:
    headers = page_headers("https://app.example.com")
    policy = headers["Content-Security-Policy"]
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "https://app.example.com"
    assert "unsafe" not in policy
    assert "Cross-Origin-Opener-Policy" not in headers  # would cut a popup off from its opener
    assert "X-Frame-Options" not in headers  # would override frame-ancestors
    assert headers["Cache-Control"] == "no-store"
