"""Response headers of the Connect UI: a strict CSP without inline scripts, framing as configured."""

from __future__ import annotations

import re

# An origin, a scheme ("https:"), a wildcard host or a CSP keyword; anything else could smuggle a
# directive or a header break into the policy, so it is dropped.
_SOURCE = re.compile(r"^(\*|'self'|'none'|[a-z][a-z0-9+.-]*:(//[A-Za-z0-9*._:-]+)?(/[A-Za-z0-9._~/-]*)?)$")


def frame_ancestors(configured: str) -> str:
    """The ``frame-ancestors`` sources from ``Settings.connect_frame_ancestors`` (space-separated).

    Entries that are not sources are dropped. A value that tries to end the directive (``;``) or
    the header (control characters) is refused whole, and nothing valid left means ``'none'``
    (the page cannot be framed): a bad setting fails closed, never open.
    """
    if ";" in configured or any(ord(ch) < 32 and ch not in " \t" for ch in configured):
        return "'none'"
    sources = [s for s in configured.replace(",", " ").split() if _SOURCE.match(s)]
    return " ".join(sources) if sources else "'none'"


def page_headers(configured_ancestors: str) -> dict[str, str]:
    """Headers for the HTML page.

    ``Cross-Origin-Opener-Policy`` is deliberately absent: the page must keep ``window.opener`` to
    tell a popup's opener that the account is linked.
    """
    policy = "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            f"frame-ancestors {frame_ancestors(configured_ancestors)}",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }


def asset_headers() -> dict[str, str]:
    """Headers for the page's static files (revalidated each time: there is no build step to hash names)."""
    return {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
